"""The webhook route with the real provider adapters and their real signature schemes.

Meta (X-Hub-Signature-256 over the raw body with the app secret) and Telegram (secret token
header): tenant isolation, forgeries, replays and out-of-order statuses, end to end through
/hooks/<provider>/<token>/.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from channels.base import Stage
from channels.signals import keyword_received, status_events_received
from tests.channels.conftest import create_config

pytestmark = pytest.mark.django_db

APP_SECRET_A = "meta-app-secret-tenant-a-0001"
APP_SECRET_B = "meta-app-secret-tenant-b-0002"


@pytest.fixture
def received():
    calls: dict[str, list] = {"status": [], "keyword": []}

    def on_status(sender, events, **kw):
        calls["status"].append(events)

    def on_keyword(sender, **kw):
        calls["keyword"].append(kw)

    status_events_received.connect(on_status, weak=False, dispatch_uid="prov-status")
    keyword_received.connect(on_keyword, weak=False, dispatch_uid="prov-keyword")
    yield calls
    status_events_received.disconnect(dispatch_uid="prov-status")
    keyword_received.disconnect(dispatch_uid="prov-keyword")


def meta_config(tenant, app_secret):
    return create_config(tenant, provider="meta_whatsapp", channel="whatsapp",
                         settings={"phone_number_id": "1055"},
                         secrets={"access_token": "EAAG-token", "app_secret": app_secret, "verify_token": "vt-123"})


def meta_statuses(*statuses) -> bytes:
    value = {"messaging_product": "whatsapp", "statuses": [
        {"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": "919800000001"}
        for wamid, status, ts in statuses
    ]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}).encode()


def meta_post(client, config, body: bytes, secret: str | None):
    headers = {}
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(config.webhook_path, data=body, content_type="application/json", **headers)


def test_meta_status_callbacks_signed_with_the_tenants_app_secret_are_accepted(client, tenant_a, received):
    config = meta_config(tenant_a, APP_SECRET_A)
    # Meta delivers out of order: "read" can arrive before "delivered". Both carry their stage;
    # the engine applies them forward only.
    body = meta_statuses(("wamid.1", "read", 1700000100), ("wamid.1", "delivered", 1700000050))
    assert meta_post(client, config, body, APP_SECRET_A).status_code == 200
    [events] = received["status"]
    assert [(e.provider_message_id, e.stage) for e in events] == [("wamid.1", Stage.READ), ("wamid.1", Stage.DELIVERED)]


def test_meta_callbacks_signed_by_another_tenant_or_unsigned_are_403(client, tenant_a, tenant_b, received):
    config_a = meta_config(tenant_a, APP_SECRET_A)
    meta_config(tenant_b, APP_SECRET_B)
    body = meta_statuses(("wamid.1", "delivered", 1700000050))
    assert meta_post(client, config_a, body, APP_SECRET_B).status_code == 403
    assert meta_post(client, config_a, body, None).status_code == 403
    tampered = body.replace(b"delivered", b"read")
    signature = "sha256=" + hmac.new(APP_SECRET_A.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(config_a.webhook_path, data=tampered, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 403
    assert received["status"] == []


def test_a_replayed_meta_callback_changes_state_once(client, tenant_a, received):
    config = meta_config(tenant_a, APP_SECRET_A)
    body = meta_statuses(("wamid.9", "delivered", 1700000050))
    for _ in range(50):
        assert meta_post(client, config, body, APP_SECRET_A).status_code == 200
    assert len(received["status"]) == 1


def test_meta_subscription_handshake_uses_the_configs_verify_token(client, tenant_a):
    config = meta_config(tenant_a, APP_SECRET_A)
    ok = client.get(config.webhook_path, {"hub.mode": "subscribe", "hub.verify_token": "vt-123", "hub.challenge": "42"})
    assert ok.status_code == 200 and ok.content == b"42"
    bad = client.get(config.webhook_path, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"})
    assert bad.status_code == 403


def test_an_inbound_whatsapp_stop_reaches_audiences_as_a_keyword(client, tenant_a, received):
    config = meta_config(tenant_a, APP_SECRET_A)
    value = {"messaging_product": "whatsapp", "messages": [
        {"from": "919800000001", "id": "wamid.in1", "timestamp": "1700000000", "type": "text", "text": {"body": "STOP"}}]}
    body = json.dumps({"entry": [{"changes": [{"field": "messages", "value": value}]}]}).encode()
    assert meta_post(client, config, body, APP_SECRET_A).status_code == 200
    [keyword] = received["keyword"]
    assert (keyword["address"], keyword["keyword"], keyword["channel"]) == ("+919800000001", "stop", "whatsapp")


def test_telegram_updates_need_the_configs_secret_token(client, tenant_a, tenant_b, received):
    config_a = create_config(tenant_a, provider="telegram", channel="telegram",
                             secrets={"bot_token": "1:AAA", "webhook_secret": "tg-secret-a"})
    create_config(tenant_b, provider="telegram", channel="telegram",
                  secrets={"bot_token": "2:BBB", "webhook_secret": "tg-secret-b"})
    update = json.dumps({"update_id": 77, "message": {
        "message_id": 5, "date": 1700000000, "chat": {"id": 4242, "type": "private"}, "text": "/stop"}}).encode()

    def send(secret):
        headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret else {}
        return client.post(config_a.webhook_path, data=update, content_type="application/json", **headers)

    assert send("tg-secret-b").status_code == 403
    assert send(None).status_code == 403
    assert received["keyword"] == []
    assert send("tg-secret-a").status_code == 200
    assert send("tg-secret-a").status_code == 200  # Telegram re-delivers until it gets a 200
    assert [(k["address"], k["keyword"]) for k in received["keyword"]] == [("4242", "stop")]
