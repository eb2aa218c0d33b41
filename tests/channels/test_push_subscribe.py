"""The public web push subscribe page, its service worker and the subscription endpoint."""

from __future__ import annotations

import base64
import os

import pytest
from django.template.loader import render_to_string

from channels.providers.webpush import WebPush
from channels.public_views import _Invalid, _parse_subscription


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
