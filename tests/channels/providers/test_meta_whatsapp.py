"""WhatsApp through Meta's Cloud API: compliance, webhooks and the send matrix against the fake."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, OutboundMessage, ProviderConfig, Stage, TemplateRef
from channels.providers.meta_whatsapp import MetaWhatsApp

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"


def make_adapter(**overrides) -> MetaWhatsApp:
    settings = {"phone_number_id": "1098765432", **overrides.pop("settings", {})}
    secrets = {"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
               **overrides.pop("secrets", {})}
    return MetaWhatsApp(ProviderConfig(key="meta_whatsapp", settings=settings, secrets=secrets, **overrides))


def signed_post(body: dict, *, secret: str = APP_SECRET, signature: str | None = None):
    raw = json.dumps(body).encode()
    sig = signature if signature is not None else "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return RequestFactory().post("/hooks/meta_whatsapp/x/", data=raw, content_type="application/json",
                                 headers={"X-Hub-Signature-256": sig})


def webhook(value: dict) -> dict:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1098765432"},
                **value}}]}]}


# --- the 24-hour customer service window ---------------------------------------------------------


@pytest.fixture
def unreachable_api(settings):
    # Any HTTP call would fail with a network error instead of the compliance error.
    settings.WHATSAPP_API_BASE = "http://127.0.0.1:9"


def test_free_form_text_without_any_inbound_message_is_refused_before_calling_meta(unreachable_api):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", text="Hi there")])
    assert not result.ok
    assert result.error.code == "outside_session_window"
    assert result.error.permanent


def test_free_form_text_25_hours_after_the_last_inbound_message_is_refused(unreachable_api):
    last = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", text="Hi", options={"last_inbound_at": last})])
    assert result.error.code == "outside_session_window"


def test_free_form_text_within_24_hours_builds_a_session_text_message():
    last = (datetime.now(UTC) - timedelta(hours=23)).isoformat()
    payload = make_adapter().build_payload(OutboundMessage(id="d1", to="+91 98000 00001", text="Hi", options={"last_inbound_at": last}))
    assert payload["type"] == "text"
    assert payload["text"]["body"] == "Hi"
    assert payload["to"] == "919800000001"
    assert payload["biz_opaque_callback_data"] == "d1"


def test_templates_are_allowed_outside_the_window():
    message = OutboundMessage(id="d1", to="+919800000001", template=TemplateRef(name="diwali_sale", language="en_US", variables=("Asha", "20%")))
    payload = make_adapter().build_payload(message)
    assert payload["type"] == "template"
    assert payload["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "20%"}]}
    ]


def test_missing_credentials_name_the_missing_settings():
    adapter = MetaWhatsApp(ProviderConfig(key="meta_whatsapp", settings={}, secrets={}))
    with pytest.raises(ConfigurationError, match="Phone number ID, Access token"):
        adapter.send([OutboundMessage(id="d1", to="+15550001", template=TemplateRef(name="t"))])


# --- webhooks --------------------------------------------------------------------------------------


def test_a_correctly_signed_webhook_is_accepted():
    assert make_adapter().verify_callback(signed_post(webhook({"statuses": []})))


@pytest.mark.parametrize("signature", [
    None,  # signed with another secret, below
    "sha256=" + "0" * 64,
    "",
    "sha1=abc",
])
def test_forged_or_unsigned_webhooks_are_refused(signature):
    request = signed_post(webhook({"statuses": []}), secret="not-the-app-secret", signature=signature)
    assert not make_adapter().verify_callback(request)


def test_a_body_changed_after_signing_is_refused():
    good = signed_post(webhook({"statuses": []}))
    tampered = RequestFactory().post("/h/", data=good.body.replace(b"WABA1", b"WABA2"), content_type="application/json",
                                     headers={"X-Hub-Signature-256": good.headers["X-Hub-Signature-256"]})
    assert not make_adapter().verify_callback(tampered)


def test_without_an_app_secret_nothing_verifies():
    adapter = make_adapter(secrets={"app_secret": ""})
    assert not adapter.verify_callback(signed_post(webhook({}), secret=""))


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_token():
    request = RequestFactory().get("/h/", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    response = make_adapter().verify_subscription(request)
    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_the_subscription_handshake_refuses_a_wrong_token():
    request = RequestFactory().get("/h/", {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert make_adapter().verify_subscription(request).status_code == 403


def test_a_plain_get_is_not_a_handshake():
    assert make_adapter().verify_subscription(RequestFactory().get("/h/")) is None


def test_statuses_arriving_out_of_order_each_carry_their_stage_and_our_delivery_id():
    body = webhook({"statuses": [
        {"id": "wamid.A", "status": "read", "timestamp": "1700000300", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
        {"id": "wamid.A", "status": "sent", "timestamp": "1700000100", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
        {"id": "wamid.A", "status": "delivered", "timestamp": "1700000200", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
    ]})
    events = make_adapter().parse_callback(signed_post(body))
    assert [e.stage for e in events] == [Stage.READ, Stage.SENT, Stage.DELIVERED]
    assert {e.message_id for e in events} == {"d1"}
    assert {e.provider_message_id for e in events} == {"wamid.A"}
    assert events[0].occurred_at == datetime.fromtimestamp(1700000300, tz=UTC)
    assert len({e.event_id for e in events}) == 3


def test_a_failed_status_carries_metas_error_code_and_text():
    body = webhook({"statuses": [{"id": "wamid.B", "status": "failed", "timestamp": "1700000100", "recipient_id": "1",
                                  "errors": [{"code": 131047, "title": "Re-engagement message",
                                              "error_data": {"details": "More than 24 hours have passed"}}]}]})
    [event] = make_adapter().parse_callback(signed_post(body))
    assert event.stage == Stage.FAILED
    assert event.error_code == "131047"
    assert "More than 24 hours" in event.error_message


@pytest.mark.parametrize(("text", "keyword"), [("STOP", "stop"), (" stop ", "stop"), ("Unsubscribe", "stop"),
                                               ("START", "start"), ("help", "help"), ("stop sending me deals?", "")])
def test_inbound_replies_are_recorded_with_compliance_keywords(text, keyword):
    body = webhook({
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": "919800000001"}],
        "messages": [{"from": "919800000001", "id": "wamid.IN1", "timestamp": "1700000400", "type": "text",
                      "text": {"body": text}, "context": {"from": "15550001111", "id": "wamid.A"}}],
    })
    [event] = make_adapter().parse_callback(signed_post(body))
    assert event.stage == Stage.REPLIED
    assert event.from_address == "+919800000001"
    assert event.text == text
    assert event.keyword == keyword
    assert event.provider_message_id == "wamid.A"
