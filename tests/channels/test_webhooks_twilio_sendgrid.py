"""Route-level signature tests with Twilio's and SendGrid's real schemes.

Twilio: X-Twilio-Signature = HMAC-SHA1 over the public URL plus the sorted form parameters, with
the account's auth token (signed here with twilio's own RequestValidator). SendGrid: ECDSA P-256
over timestamp + raw body, verified with the public key from the SendGrid settings page (signed
here with a key made by `cryptography`). These run once the provider modules exist; the config
fields are found from the adapter's own ConfigField declarations.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest
from django.test import override_settings

from channels.base import Stage
from channels.signals import status_events_received
from tests.channels.conftest import create_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls: list = []

    def on_status(sender, events, **kw):
        calls.append(events)

    status_events_received.connect(on_status, weak=False, dispatch_uid="tw-sg-status")
    yield calls
    status_events_received.disconnect(dispatch_uid="tw-sg-status")


def field_named(adapter_cls, *words, secret: bool | None = None) -> str:
    for spec in adapter_cls.fields:
        if any(w in spec.name.lower() for w in words) and (secret is None or spec.secret == secret):
            return spec.name
    pytest.fail(f"{adapter_cls.__name__} declares no field matching {words}")


# --- Twilio --------------------------------------------------------------------------------------


@pytest.fixture
def twilio():
    from channels.providers.twilio_sms import TwilioSms

    return TwilioSms


def twilio_config(adapter_cls, tenant, token: str):
    sid_field = field_named(adapter_cls, "sid", secret=False) if any(
        "sid" in f.name and not f.secret for f in adapter_cls.fields) else None
    settings = {f.name: "+15005550006" for f in adapter_cls.fields if not f.secret and "from" in f.name}
    secrets = {field_named(adapter_cls, "token", secret=True): token}
    if sid_field:
        settings[sid_field] = "AC" + "0" * 32
    else:
        secrets[field_named(adapter_cls, "sid")] = "AC" + "0" * 32
    return create_config(tenant, provider="twilio_sms", channel="sms", settings=settings, secrets=secrets)


def twilio_post(client, config, params: dict, token: str, public_url: str, **extra):
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(token).compute_signature(public_url, params)
    return client.post(config.webhook_path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       HTTP_X_TWILIO_SIGNATURE=signature, **extra)


STATUS = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32,
          "To": "+919800000001", "From": "+15005550006", "SmsStatus": "delivered"}


def test_a_twilio_status_signed_with_the_tenants_auth_token_is_applied_once(client, twilio, tenant_a, received):
    config = twilio_config(twilio, tenant_a, "auth-token-tenant-a-000000000001")
    public = f"http://testserver{config.webhook_path}"
    for _ in range(50):
        assert twilio_post(client, config, STATUS, "auth-token-tenant-a-000000000001", public).status_code == 200
    assert len(received) == 1
    assert [(e.provider_message_id, e.stage) for e in received[0]] == [(STATUS["MessageSid"], Stage.DELIVERED)]


def test_a_twilio_callback_signed_with_another_tenants_token_is_403(client, twilio, tenant_a, tenant_b, received):
    config = twilio_config(twilio, tenant_a, "auth-token-tenant-a-000000000001")
    twilio_config(twilio, tenant_b, "auth-token-tenant-b-000000000002")
    public = f"http://testserver{config.webhook_path}"
    assert twilio_post(client, config, STATUS, "auth-token-tenant-b-000000000002", public).status_code == 403
    forged = client.post(config.webhook_path, data=urlencode(STATUS), content_type="application/x-www-form-urlencoded")
    assert forged.status_code == 403
    assert received == []


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), USE_X_FORWARDED_HOST=True,
                   USE_X_FORWARDED_PORT=True, ALLOWED_HOSTS=["hooks.example.com", "testserver"])
def test_twilio_signatures_verify_behind_a_tls_proxy_on_a_non_standard_port(client, twilio, tenant_a, received):
    config = twilio_config(twilio, tenant_a, "auth-token-tenant-a-000000000001")
    public = f"https://hooks.example.com:8443{config.webhook_path}"
    response = twilio_post(client, config, STATUS, "auth-token-tenant-a-000000000001", public,
                           HTTP_HOST="hooks.example.com:8443", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200 and len(received) == 1


# --- SendGrid ------------------------------------------------------------------------------------


@pytest.fixture
def sendgrid():
    import channels.providers.sendgrid_email as module
    return module.SendGridEmail


def ecdsa_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def sendgrid_config(adapter_cls, tenant, public_key: str):
    key_field = field_named(adapter_cls, "public", "verification", "webhook")
    values = {key_field: public_key}
    api_field = field_named(adapter_cls, "api_key", "apikey", "key", secret=True)
    if api_field != key_field:
        values[api_field] = "SG.test-key"
    settings = {f.name: "offers@acme.example" for f in adapter_cls.fields if not f.secret and "from" in f.name}
    secrets = {k: v for k, v in values.items() if any(f.name == k and f.secret for f in adapter_cls.fields)}
    settings.update({k: v for k, v in values.items() if k not in secrets})
    return create_config(tenant, provider="sendgrid", channel="email", settings=settings, secrets=secrets)


def sendgrid_post(client, config, private_key, events: list, timestamp: int | None = None):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    body = json.dumps(events).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = base64.b64encode(private_key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    return client.post(config.webhook_path, data=body, content_type="application/json",
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=signature,
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=ts)


def sg_events():
    now = int(time.time())
    return [
        {"email": "asha@example.com", "timestamp": now, "event": "open", "sg_event_id": "ev-open-1",
         "sg_message_id": "msg-1.filter", "delivery_id": "d-1"},
        {"email": "asha@example.com", "timestamp": now - 5, "event": "delivered", "sg_event_id": "ev-deliv-1",
         "sg_message_id": "msg-1.filter", "delivery_id": "d-1"},
    ]


def test_sendgrid_events_signed_with_the_tenants_key_are_deduplicated_on_sg_event_id(client, sendgrid, tenant_a,
                                                                                       received):
    private, public = ecdsa_key()
    config = sendgrid_config(sendgrid, tenant_a, public)
    events = sg_events()
    for _ in range(3):  # SendGrid delivers each event about three times
        assert sendgrid_post(client, config, private, events).status_code == 200
    assert len(received) == 1
    assert sorted(e.event_id for e in received[0]) == ["ev-deliv-1", "ev-open-1"]
    assert {e.stage for e in received[0]} == {Stage.READ, Stage.DELIVERED}


def test_sendgrid_events_signed_by_another_tenants_key_or_stale_are_403(client, sendgrid, tenant_a, tenant_b,
                                                                         received):
    private_a, public_a = ecdsa_key()
    private_b, public_b = ecdsa_key()
    config_a = sendgrid_config(sendgrid, tenant_a, public_a)
    sendgrid_config(sendgrid, tenant_b, public_b)
    assert sendgrid_post(client, config_a, private_b, sg_events()).status_code == 403
    stale = int(time.time()) - 6 * 60
    assert sendgrid_post(client, config_a, private_a, sg_events(), timestamp=stale).status_code == 403
    assert received == []
