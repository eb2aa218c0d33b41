"""The public web push subscribe page, its service worker and the subscription endpoint."""

from __future__ import annotations

import base64
import os

import pytest
from django.template.loader import render_to_string

from channels.providers.webpush import WebPush
from channels.public_views import _Invalid, _parse_subscription
from channels.services import channel_config_create
from tenants.scoping import tenant_scope


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


P256DH = b64(b"\x04" + os.urandom(64))
AUTH = b64(os.urandom(16))


def body(**overrides) -> bytes:
    import json

    data = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc123", "keys": {"p256dh": P256DH, "auth": AUTH},
            "user_agent": "Mozilla/5.0", "email": ""}
    data.update(overrides)
    return json.dumps(data).encode()


# --- validating what browsers post -----------------------------------------------------------------


def test_a_browser_subscription_is_accepted():
    sub = _parse_subscription(body(email="asha@example.com"))
    assert sub["endpoint"] == "https://fcm.googleapis.com/fcm/send/abc123"
    assert (sub["p256dh"], sub["auth"], sub["email"]) == (P256DH, AUTH, "asha@example.com")


@pytest.mark.parametrize("endpoint", [
    "http://fcm.googleapis.com/fcm/send/abc",  # not https
    "https://127.0.0.1/admin",                 # our own machine
    "https://10.0.0.5/push",                   # private network
    "https://localhost/push",
    "https://metadata.google.internal/computeMetadata",
    "ftp://push.example.com/x",
    "",
])
def test_endpoints_that_would_make_our_workers_call_somewhere_else_are_refused(endpoint):
    with pytest.raises(_Invalid, match="endpoint"):
        _parse_subscription(body(endpoint=endpoint))


def test_the_local_fake_push_service_is_allowed(settings):
    settings.FAKE_PROVIDERS_URL = "http://127.0.0.1:8025"
    assert _parse_subscription(body(endpoint="http://127.0.0.1:8025/push-service/x"))["endpoint"].endswith("/x")


@pytest.mark.parametrize(("keys", "problem"), [
    ({"p256dh": P256DH}, "auth"),
    ({"auth": AUTH}, "p256dh"),
    ({"p256dh": b64(b"\x04" + os.urandom(10)), "auth": AUTH}, "P-256"),
    ({"p256dh": P256DH, "auth": b64(os.urandom(8))}, "16 bytes"),
    ({"p256dh": "***", "auth": AUTH}, "p256dh"),
])
def test_malformed_keys_are_refused(keys, problem):
    with pytest.raises(_Invalid, match=problem):
        _parse_subscription(body(keys=keys))


def test_an_invalid_email_is_refused_and_oversized_bodies_too():
    with pytest.raises(_Invalid, match="email"):
        _parse_subscription(body(email="not-an-email"))
    with pytest.raises(_Invalid, match="too large"):
        _parse_subscription(body(user_agent="x" * 10_000))


# --- the page itself ------------------------------------------------------------------------------


def test_the_page_carries_the_vapid_key_and_urls_as_data_and_no_inline_script():
    key = WebPush.generate_secrets()["vapid_public_key"]
    html = render_to_string("channels/push_subscribe.html", {
        "site_name": "Acme Retail", "prompt": "Get offers", "public_key": key,
        "subscribe_url": "/push/tok/subscribe", "service_worker_url": "/push/tok/sw.js", "scope": "/push/tok/",
    })
    assert f'data-public-key="{key}"' in html
    assert 'data-sw-url="/push/tok/sw.js"' in html
    assert "Enable notifications" in html
    assert "js/push-subscribe.js" in html
    assert "<script>" not in html and "style=" not in html


# --- served pages, against a real web push config --------------------------------------------------


@pytest.fixture
def push_config(tenant_a):
    with tenant_scope(tenant_a):
        return channel_config_create(tenant=tenant_a, channel="push", provider="webpush", name="Site push",
                                     values={"contact_email": "ops@acme.example", "site_name": "Acme Retail"})


def test_the_subscribe_page_is_public_branded_and_carries_the_tenants_vapid_key(client, push_config):
    response = client.get(f"/push/{push_config.webhook_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Retail" in html
    with tenant_scope(push_config.tenant):
        public_key = push_config.get_secrets()["vapid_public_key"]
    assert f'data-public-key="{public_key}"' in html
    assert f'data-subscribe-url="/push/{push_config.webhook_token}/subscribe"' in html
    assert response["Referrer-Policy"] == "no-referrer"


def test_an_unknown_token_or_a_disabled_config_or_channel_is_not_found(client, push_config):
    assert client.get("/push/not-a-token/").status_code == 404
    tenant = push_config.tenant
    tenant.push_enabled = False
    tenant.save()
    assert client.get(f"/push/{push_config.webhook_token}/").status_code == 404
    tenant.push_enabled = True
    tenant.save()
    with tenant_scope(tenant):
        push_config.enabled = False
        push_config.save()
    assert client.get(f"/push/{push_config.webhook_token}/").status_code == 404


def test_another_providers_token_does_not_open_a_push_page(client, tenant_a):
    with tenant_scope(tenant_a):
        telegram = channel_config_create(tenant=tenant_a, channel="telegram", provider="telegram", name="Bot",
                                         values={"bot_token": "1:abc"})
    assert client.get(f"/push/{telegram.webhook_token}/").status_code == 404


def test_the_service_worker_is_served_with_the_pages_scope(client, push_config):
    response = client.get(f"/push/{push_config.webhook_token}/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == f"/push/{push_config.webhook_token}/"
    body = response.content.decode()
    assert "showNotification" in body and "notificationclick" in body and "openWindow" in body
