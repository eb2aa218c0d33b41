"""The webhook route /hooks/<provider>/<token>/: signature first, then dedupe, then the engine.

Most tests use a tiny test-only adapter (HMAC-SHA256 of the raw body in a header, like Meta's
X-Hub-Signature-256), so the route's guarantees are checked independently of any provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from django.test import override_settings

from channels.base import Capabilities, ChannelAdapter, Stage, StatusEvent
from channels.models import ProcessedWebhookEvent
from channels.signals import keyword_received, status_events_received
from tenants.scoping import scopes_disabled
from tests.channels.conftest import create_config

pytestmark = pytest.mark.django_db

SECRET_A = "tenant-a-webhook-secret-0001"
SECRET_B = "tenant-b-webhook-secret-0002"


class HmacTestAdapter(ChannelAdapter):
    capabilities = Capabilities(channel="sms")

    def verify_callback(self, request) -> bool:
        secret = self.config.secrets.get("signing_secret", "")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return bool(secret) and hmac.compare_digest(request.headers.get("X-Test-Signature", ""), expected)

    def parse_callback(self, request) -> list[StatusEvent]:
        payload = json.loads(request.body)
        return [
            StatusEvent(stage=Stage[e["stage"]] if e.get("stage") else None, provider_message_id=e.get("msg", ""),
                        event_id=e.get("id", ""), keyword=e.get("keyword", ""), from_address=e.get("from", ""),
                        text=e.get("text", ""))
            for e in payload["events"]
        ]

    def verify_subscription(self, request):
        from django.http import HttpResponse

        if request.GET.get("challenge"):
            return HttpResponse(request.GET["challenge"])
        return None


class UrlSigningTestAdapter(ChannelAdapter):
    """Signs the absolute URL plus the body, as Twilio does: what a proxy can break."""

    capabilities = Capabilities(channel="sms")

    def verify_callback(self, request) -> bool:
        secret = self.config.secrets["signing_secret"].encode()
        expected = hmac.new(secret, request.build_absolute_uri().encode() + request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(request.headers.get("X-Test-Signature", ""), expected)

    def parse_callback(self, request) -> list[StatusEvent]:
        return [StatusEvent(stage=Stage.DELIVERED, provider_message_id="pm-1", event_id="ev-url")]


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(*events) -> bytes:
    return json.dumps({"events": list(events)}).encode()


@pytest.fixture
def hooks(register_provider):
    register_provider("test_hmac", "tests.channels.test_webhooks.HmacTestAdapter")
    register_provider("test_url", "tests.channels.test_webhooks.UrlSigningTestAdapter")


@pytest.fixture
def config_a(hooks, tenant_a):
    return create_config(tenant_a, provider="test_hmac", channel="sms", secrets={"signing_secret": SECRET_A})


@pytest.fixture
def config_b(hooks, tenant_b):
    return create_config(tenant_b, provider="test_hmac", channel="sms", secrets={"signing_secret": SECRET_B})


@pytest.fixture
def received():
    """Every status_events_received / keyword_received call the engine would see."""
    calls: dict[str, list] = {"status": [], "keyword": []}

    def on_status(sender, tenant_id, config_id, events, **kw):
        calls["status"].append({"tenant_id": tenant_id, "config_id": config_id, "events": events})

    def on_keyword(sender, **kw):
        calls["keyword"].append(kw)

    status_events_received.connect(on_status, weak=False, dispatch_uid="test-status")
    keyword_received.connect(on_keyword, weak=False, dispatch_uid="test-keyword")
    yield calls
    status_events_received.disconnect(dispatch_uid="test-status")
    keyword_received.disconnect(dispatch_uid="test-keyword")


def post(client, config, body: bytes, signature: str | None, **extra):
    headers = {"HTTP_X_TEST_SIGNATURE": signature} if signature is not None else {}
    return client.post(config.webhook_path, data=body, content_type="application/json", **headers, **extra)


def stored_events() -> int:
    with scopes_disabled():
        return ProcessedWebhookEvent.objects.count()


def test_a_correctly_signed_callback_reaches_the_engine_with_its_stage(client, config_a, received):
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "pm-1"}, {"id": "e2", "stage": "READ", "msg": "pm-1"})
    response = post(client, config_a, body, sign(SECRET_A, body))
    assert response.status_code == 200
    [call] = received["status"]
    assert call["tenant_id"] == config_a.tenant_id and call["config_id"] == config_a.pk
    assert [(e.stage, e.provider_message_id) for e in call["events"]] == [(Stage.DELIVERED, "pm-1"), (Stage.READ, "pm-1")]


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex", sign(SECRET_A, b"other body")])
def test_a_forged_or_missing_signature_gets_403_and_changes_nothing(client, config_a, received, signature, caplog):
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "pm-1"})
    with caplog.at_level(logging.INFO):
        response = post(client, config_a, body, signature)
    assert response.status_code == 403
    assert received["status"] == [] and stored_events() == 0
    assert SECRET_A not in caplog.text


def test_tenant_a_endpoint_refuses_a_request_signed_with_tenant_b_secret(client, config_a, config_b, received):
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "pm-1"})
    assert post(client, config_a, body, sign(SECRET_B, body)).status_code == 403
    assert post(client, config_b, body, sign(SECRET_A, body)).status_code == 403
    assert received["status"] == [] and stored_events() == 0
    # Each endpoint accepts its own tenant's signature.
    assert post(client, config_b, body, sign(SECRET_B, body)).status_code == 200
    assert [c["tenant_id"] for c in received["status"]] == [config_b.tenant_id]


def test_the_same_signed_request_posted_50_times_changes_state_once(client, config_a, received):
    body = payload({"id": "sg-1", "stage": "DELIVERED", "msg": "pm-1"}, {"id": "sg-2", "stage": "CLICKED", "msg": "pm-1"})
    signature = sign(SECRET_A, body)
    statuses = {post(client, config_a, body, signature).status_code for _ in range(50)}
    assert statuses == {200}  # providers must not retry a duplicate forever
    assert len(received["status"]) == 1 and len(received["status"][0]["events"]) == 2
    assert stored_events() == 2


def test_a_batch_mixing_seen_and_new_events_forwards_only_the_new_ones(client, config_a, received):
    first = payload({"id": "sg-1", "stage": "DELIVERED", "msg": "pm-1"})
    second = payload({"id": "sg-1", "stage": "DELIVERED", "msg": "pm-1"}, {"id": "sg-3", "stage": "READ", "msg": "pm-1"})
    post(client, config_a, first, sign(SECRET_A, first))
    post(client, config_a, second, sign(SECRET_A, second))
    assert [[e.event_id for e in c["events"]] for c in received["status"]] == [["sg-1"], ["sg-3"]]


def test_events_without_an_id_are_deduplicated_by_the_body(client, config_a, received):
    body = payload({"stage": "DELIVERED", "msg": "pm-1"}, {"stage": "READ", "msg": "pm-1"})
    for _ in range(3):
        post(client, config_a, body, sign(SECRET_A, body))
    assert len(received["status"]) == 1 and len(received["status"][0]["events"]) == 2


def test_event_ids_are_per_config_so_two_tenants_never_collide(client, config_a, config_b, received):
    body = payload({"id": "same-id", "stage": "DELIVERED", "msg": "pm-1"})
    post(client, config_a, body, sign(SECRET_A, body))
    post(client, config_b, body, sign(SECRET_B, body))
    assert len(received["status"]) == 2


def test_oversized_bodies_are_refused_before_anything_is_read(client, config_a, received, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "x" * 2000})
    response = post(client, config_a, body, sign(SECRET_A, body))
    assert response.status_code == 413
    assert received["status"] == [] and stored_events() == 0


def test_unknown_tokens_and_mismatched_providers_are_404(client, config_a):
    body = payload()
    assert client.post(f"/hooks/test_hmac/{'x' * 32}/", body, content_type="application/json").status_code == 404
    assert client.post(f"/hooks/sandbox/{config_a.webhook_token}/", body, content_type="application/json").status_code == 404


def test_inbound_keywords_are_handed_to_audiences(client, config_a, received):
    body = payload({"id": "in-1", "from": "+919800000001", "text": "STOP", "keyword": "stop"})
    assert post(client, config_a, body, sign(SECRET_A, body)).status_code == 200
    [call] = received["keyword"]
    assert (call["tenant_id"], call["channel"], call["address"], call["keyword"]) == (
        config_a.tenant_id, "sms", "+919800000001", "stop")
    assert call["evidence"]["text"] == "STOP"


def test_a_failing_engine_rolls_back_the_dedupe_so_the_provider_retry_is_applied(client, config_a, received):
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "pm-1"})

    def explode(**kwargs):
        raise RuntimeError("database hiccup")

    status_events_received.connect(explode, weak=False, dispatch_uid="explode")
    try:
        client.raise_request_exception = False
        assert post(client, config_a, body, sign(SECRET_A, body)).status_code == 500
    finally:
        status_events_received.disconnect(dispatch_uid="explode")
    assert stored_events() == 0
    assert post(client, config_a, body, sign(SECRET_A, body)).status_code == 200
    assert len(received["status"]) == 2  # the failed attempt, then the retry that stuck


def test_events_the_engine_cannot_match_are_logged_and_ignored(client, config_a, caplog):
    def engine(sender, events, **kwargs):
        return [e for e in events if e.provider_message_id == "unknown"]

    status_events_received.connect(engine, weak=False, dispatch_uid="engine")
    try:
        body = payload({"id": "e1", "stage": "DELIVERED", "msg": "unknown"})
        with caplog.at_level(logging.INFO, logger="channels.webhooks"):
            assert post(client, config_a, body, sign(SECRET_A, body)).status_code == 200
    finally:
        status_events_received.disconnect(dispatch_uid="engine")
    assert "unknown message unknown" in caplog.text


def test_a_get_handshake_is_answered_by_the_adapter(client, config_a):
    response = client.get(config_a.webhook_path, {"challenge": "12345"})
    assert response.status_code == 200 and response.content == b"12345"
    assert client.get(config_a.webhook_path).status_code == 405


def test_a_deactivated_tenant_gets_no_callbacks(client, config_a, tenant_a, received):
    tenant_a.is_active = False
    tenant_a.save()
    body = payload({"id": "e1", "stage": "DELIVERED", "msg": "pm-1"})
    assert post(client, config_a, body, sign(SECRET_A, body)).status_code == 404


@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
    USE_X_FORWARDED_PORT=True,
    ALLOWED_HOSTS=["hooks.example.com", "testserver"],
)
@pytest.mark.parametrize("proxy_headers", [
    # nginx: proxy_set_header Host $http_host; X-Forwarded-Proto $scheme
    {"HTTP_HOST": "hooks.example.com:8443", "HTTP_X_FORWARDED_PROTO": "https"},
    # a proxy that rewrites Host and passes the public host and port in X-Forwarded-Host
    {"HTTP_X_FORWARDED_HOST": "hooks.example.com:8443", "HTTP_X_FORWARDED_PROTO": "https",
     "HTTP_X_FORWARDED_PORT": "8443"},
])
def test_signatures_over_the_url_still_verify_behind_a_tls_terminating_proxy(client, hooks, tenant_a, received,
                                                                              proxy_headers):
    config = create_config(tenant_a, provider="test_url", channel="sms", secrets={"signing_secret": SECRET_A})
    body = b'{"status": "delivered"}'
    public_url = f"https://hooks.example.com:8443{config.webhook_path}"
    signature = hmac.new(SECRET_A.encode(), public_url.encode() + body, hashlib.sha256).hexdigest()
    response = post(client, config, body, signature, **proxy_headers)
    assert response.status_code == 200
    assert len(received["status"]) == 1
    # The same signature seen over the internal http URL (proxy headers dropped) is refused.
    assert post(client, config, body, signature).status_code == 403
