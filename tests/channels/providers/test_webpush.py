"""Web push with per-tenant VAPID keys, against the fake push service over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from py_vapid import Vapid

from channels.base import ConfigurationError, Media, OutboundMessage, ProviderConfig
from channels.providers.webpush import WebPush, public_key_of
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

KEYS = WebPush.generate_secrets()


def make_adapter(**overrides) -> WebPush:
    settings = {"contact_email": "ops@acme.example", "site_name": "Acme Retail", "icon_url": "https://acme.example/icon.png",
                **overrides.pop("settings", {})}
    secrets = {**KEYS, **overrides.pop("secrets", {})}
    return WebPush(ProviderConfig(key="webpush", settings=settings, secrets=secrets))


def subscribe(hub) -> dict:
    return httpx.post(f"{hub.url}/push-service/_subscribe", timeout=5).json()


def push_to(subscription: dict, **fields) -> OutboundMessage:
    return OutboundMessage(to=subscription["endpoint"], options={"keys": subscription["keys"]}, **fields)


def test_generated_vapid_keys_are_a_matching_p256_pair():
    keys = WebPush.generate_secrets()
    vapid = Vapid.from_string(keys["vapid_private_key"])
    assert public_key_of(vapid) == keys["vapid_public_key"]
    assert len(keys["vapid_public_key"]) == 87  # 65-byte uncompressed point, unpadded base64url
    assert WebPush.generate_secrets() != keys


def test_a_push_arrives_encrypted_and_decrypts_to_the_notification(hub):
    sub = subscribe(hub)
    message = push_to(sub, id="d-1", title="Diwali sale", text="20% off today", url="https://acme.example/sale",
                      media=(Media(url="https://acme.example/banner.png", content_type="image/png"),))
    [result] = make_adapter().send([message])
    assert result.ok
    assert "/push-service/m/" in result.provider_message_id
    [push] = hub.received("webpush", kind="push")
    assert push["answered"] == 201
    assert push["content_encoding"] == "aes128gcm"
    assert push["authorization"].startswith("vapid t=")
    assert push["ttl"] == "86400"
    assert push["delivery_id"] == "d-1"
    assert push["payload"] == {"title": "Diwali sale", "body": "20% off today", "url": "https://acme.example/sale",
                               "icon": "https://acme.example/icon.png", "id": "d-1", "image": "https://acme.example/banner.png"}


def test_the_site_name_is_the_title_when_the_message_has_none(hub):
    sub = subscribe(hub)
    make_adapter(settings={"ttl": "600"}).send([push_to(sub, id="d-2", text="Back in stock")])
    [push] = hub.received("webpush", kind="push")
    assert push["payload"]["title"] == "Acme Retail"
    assert push["ttl"] == "600"


@pytest.mark.parametrize("gone_how", ["unsubscribed", "unknown"])
def test_a_gone_subscription_is_permanent_and_asks_for_removal(hub, gone_how):
    sub = subscribe(hub)
    if gone_how == "unsubscribed":
        httpx.delete(sub["endpoint"], timeout=5)
        expected_status = 410
    else:
        sub = {**sub, "endpoint": sub["endpoint"] + "-nope"}
        expected_status = 404
    [result] = make_adapter().send([push_to(sub, id="d-3", text="hi")])
    assert result.error.permanent
    assert result.error.code == "subscription_gone"
    assert result.error.suppress_recipient
    assert str(expected_status) in result.error.message
    assert len(hub.received("webpush", kind="push")) == 1


def test_429_is_transient_with_the_push_services_retry_after(hub):
    sub = subscribe(hub)
    hub.fault("webpush", status=429, retry_after=30)
    results = make_adapter().send([push_to(sub, id="d-4", text="hi"), push_to(sub, id="d-5", text="hi")])
    assert all(not r.error.permanent and r.error.retry_after == 30 for r in results)
    assert len(hub.received("webpush", kind="push")) == 1


def test_a_push_service_outage_is_transient(hub):
    sub = subscribe(hub)
    hub.fault("webpush", status=503)
    [result] = make_adapter().send([push_to(sub, id="d-6", text="hi")])
    assert not result.error.permanent and result.error.code == "503"


def test_a_timeout_is_transient(hub, monkeypatch):
    monkeypatch.setattr(WebPush, "TIMEOUT_SECONDS", 0.5)
    sub = subscribe(hub)
    hub.fault("webpush", status=0, delay=1.5)
    [result] = make_adapter().send([push_to(sub, id="d-7", text="hi")])
    assert result.error.code == "timeout" and not result.error.permanent


def test_the_fake_push_service_refuses_missing_or_malformed_vapid_authorization(hub):
    sub = subscribe(hub)
    assert httpx.post(sub["endpoint"], headers={"Authorization": "vapid t=not-a-jwt,k=abc", "TTL": "0"}, timeout=5).status_code == 401
    assert httpx.post(sub["endpoint"], headers={"TTL": "0"}, timeout=5).status_code == 401


def test_a_subscription_without_keys_is_refused_locally(hub):
    [result] = make_adapter().send([OutboundMessage(id="d-8", to=f"{hub.url}/push-service/x", text="hi")])
    assert result.error.code == "invalid_subscription" and result.error.permanent
    assert hub.received("webpush") == []


def test_missing_contact_email_or_keys_is_a_clear_configuration_error():
    adapter = WebPush(ProviderConfig(key="webpush", settings={}, secrets={}))
    with pytest.raises(ConfigurationError, match="Contact email, VAPID private key"):
        adapter.send([OutboundMessage(id="d", to="https://push.example/x", options={"keys": {"p256dh": "a", "auth": "b"}})])


def test_test_connection_checks_the_key_pair():
    assert "VAPID key pair valid" in make_adapter().test_connection()
    other = WebPush.generate_secrets()["vapid_public_key"]
    with pytest.raises(ConfigurationError, match="does not match"):
        make_adapter(secrets={"vapid_public_key": other}).test_connection()
