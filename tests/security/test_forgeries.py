"""Forged credentials on the public endpoints, swept so new providers and token URLs are covered.

Already covered elsewhere and not repeated here: signed/replayed/cross-tenant webhooks for the
test adapter, Meta, Telegram, Twilio and SendGrid (tests/channels/test_webhooks*.py), tampered
click tokens (tests/analytics/test_tracking.py), forged unsubscribe tokens
(tests/audiences/test_unsubscribe.py), revoked keys on each API (tests/tenants/test_api_keys.py,
tests/analytics/test_conversions_api.py). This file adds the sweeps:
- every provider in the registry refuses an unsigned or wrongly signed callback, records nothing;
- every public URL that takes a token answers 404 and records nothing when any single character
  of a valid token is changed;
- every /api/v1/ route answers 401 to a revoked key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from analytics import tracking
from analytics.models import ClickEvent, Conversion, TrackedLink
from audiences import services as audience_services
from audiences.models import ConsentEvent, Contact, PushSubscription
from campaigns.models import Delivery, DeliveryStatus
from channels import registry
from channels.models import ProcessedWebhookEvent
from channels.services import channel_config_create
from tenants.scoping import scopes_disabled, tenant_scope
from tenants.services import api_key_create, api_key_revoke
from tests.channels.conftest import create_config
from tests.channels.test_webhooks import received  # noqa: F401 - the shared signal-recording fixture
from tests.security.factories import build_world
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db

RECORDS = (ClickEvent, Conversion, ConsentEvent, PushSubscription, ProcessedWebhookEvent, Delivery, Contact)


def records() -> dict[str, list[str]]:
    """Every row the public endpoints could write (timestamps on deliveries and consent included)."""
    with scopes_disabled():
        return {m.__name__: sorted(map(repr, m.objects.values_list())) for m in RECORDS}


# --- webhooks: every provider ---------------------------------------------------------------

FORGED_HEADERS = {
    "HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(b"guess", b"{}", hashlib.sha256).hexdigest(),
    "HTTP_X_TWILIO_SIGNATURE": "Zm9yZ2VkLXNpZ25hdHVyZQ==",
    "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "guess",
    "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "MEUCIQD0",
    "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": "1700000000",
}
DELIVERED = json.dumps({"MessageSid": "SM1", "MessageStatus": "delivered", "entry": [], "message": {"text": "STOP"},
                        "update_id": 1, "sg_event_id": "e1", "event": "delivered"})


@pytest.mark.parametrize("provider", sorted(registry.PROVIDERS))
def test_every_provider_refuses_forged_callbacks_and_records_nothing(provider, tenant_a, received):  # noqa: F811
    adapter_cls = registry.adapter_class(provider)
    channel = registry.PROVIDERS[provider][1]
    config = create_config(
        tenant_a, provider=provider, channel="email" if channel == "any" else channel,
        settings={f.name: "configured" for f in adapter_cls.fields if not f.secret},
        secrets={f.name: "the-real-secret" for f in adapter_cls.fields if f.secret},
    )
    before = records()
    client = Client()
    for body, content_type in ((DELIVERED, "application/json"),
                               ("MessageSid=SM1&MessageStatus=delivered&Body=STOP", "application/x-www-form-urlencoded")):
        assert client.post(config.webhook_path, body, content_type=content_type).status_code == 403
        assert client.post(config.webhook_path, body, content_type=content_type,
                           **FORGED_HEADERS).status_code == 403
    assert records() == before
    assert received == {"status": [], "keyword": []}


# --- public token URLs: change any one character ----------------------------------------------


def _swap(ch: str) -> str:
    """Another character of the same alphabet; letters swap case to catch case-insensitive lookups."""
    if ch.isalpha():
        return ch.swapcase()
    return {"0": "1", "-": "_", "_": "-", ":": ";"}.get(ch, "0")


@pytest.fixture
def tokens(tenant_a, owner, settings, tmp_path) -> dict[str, tuple[str, dict[str, str]]]:
    """Route name -> (HTTP method, valid URL parameters) for every public route with a token."""
    settings.MEDIA_ROOT = tmp_path
    world = build_world(tenant_a, actor=owner)
    campaign, contact = world["campaign"], world["contact"]
    with tenant_scope(tenant_a):
        delivery = Delivery.objects.create(
            tenant=tenant_a, run=campaign.runs.get(), campaign=campaign, contact=contact, channel="email",
            status=DeliveryStatus.SENT, address=contact.email, sent_at=timezone.now())
        link = TrackedLink.objects.create(tenant=tenant_a, campaign=campaign, url="https://shop.example.com/")
        push = channel_config_create(tenant=tenant_a, channel="push", provider="webpush", name="Site push",
                                     values={"contact_email": "ops@acme.example", "site_name": "Acme"})
        unsubscribe = audience_services.unsubscribe_token(contact=contact, channel="email")
    hook = world["channel_config"]
    return {
        "tracking:click": ("get", {"token": tracking.click_token(tenant_id=tenant_a.pk, delivery_uuid=delivery.uuid,
                                                                link_id=link.pk)}),
        "tracking:open": ("get", {"token": tracking.open_token(tenant_id=tenant_a.pk, delivery_uuid=delivery.uuid)}),
        "audiences_public:preferences": ("post", {"token": unsubscribe}),
        "audiences_public:one_click": ("post", {"token": unsubscribe}),
        "channels_public_urls:push_page": ("get", {"token": push.webhook_token}),
        "channels_public_urls:push_service_worker": ("get", {"token": push.webhook_token}),
        "channels_public_urls:push_subscribe": ("post", {"token": push.webhook_token}),
        "channels_hook_urls:hook": ("post", {"provider": hook.provider, "token": hook.webhook_token}),
    }


TOKEN_ROUTES = [r for r in all_routes() if not r.is_tenant and any(name == "token" for _c, name in r.params)]
FORM = {"action": "all", "List-Unsubscribe": "One-Click"}


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=str)
def test_changing_any_character_of_a_public_token_answers_404_and_records_nothing(route, tokens):
    if route.name not in tokens:
        pytest.fail(f"{route} takes a token but this sweep has no valid token for it: add one to `tokens`")
    method, values = tokens[route.name]
    send = getattr(Client(), method)
    token = values["token"]
    before = records()
    for i, ch in enumerate(token):
        forged = token[:i] + _swap(ch) + token[i + 1:]
        status = send(route.url({**values, "token": forged}), FORM).status_code
        assert status == 404, f"{route}: changing character {i} ({ch!r}) answered {status}"
    for mangled in (token[:-1], token + "A", ""):
        if mangled:
            assert send(route.url({**values, "token": mangled}), FORM).status_code == 404
    assert records() == before
    # Control: the untouched token is accepted (otherwise the 404s above would prove nothing).
    assert send(route.url(values), FORM).status_code != 404


# --- API keys ---------------------------------------------------------------------------------

API_ROUTES = [r for r in all_routes() if r.route.startswith("api/")]


def test_a_revoked_key_gets_401_on_every_api_route(tenant_a, owner):
    assert {r.name for r in API_ROUTES} >= {"api:whoami", "api_conversions"}
    with tenant_scope(tenant_a):
        key, raw = api_key_create(tenant=tenant_a, name="Shop", actor=owner)
        api_key_revoke(api_key=key)
    client = Client()
    before = records()
    for route in API_ROUTES:
        answered = []
        body = json.dumps({"event": "purchase", "contact_id": str(uuid.uuid4())})
        for response in (client.get(route.url({}), HTTP_AUTHORIZATION=f"Bearer {raw}"),
                         client.post(route.url({}), body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {raw}")):
            if response.status_code != 405:  # the method the route serves
                answered.append(response.status_code)
        assert answered and set(answered) == {401}, f"{route} answered {answered} to a revoked key"
    assert records() == before


# --- the public push subscribe endpoint must not reveal who is a contact ------------------------


def test_push_subscribe_does_not_reveal_whether_an_email_is_a_contact(tenant_a, owner, settings, tmp_path):
    from tests.channels.test_push_subscribe import body

    settings.MEDIA_ROOT = tmp_path
    world = build_world(tenant_a, actor=owner)  # its contact is asha@example.com
    with tenant_scope(tenant_a):
        push = channel_config_create(tenant=tenant_a, channel="push", provider="webpush", name="Site push",
                                     values={"contact_email": "ops@acme.example", "site_name": "Acme"})
    url = f"/push/{push.webhook_token}/subscribe"
    known = Client().post(url, body(email=world["contact"].email, endpoint="https://fcm.googleapis.com/fcm/send/k"),
                          content_type="application/json")
    unknown = Client().post(url, body(email="nobody@example.com", endpoint="https://fcm.googleapis.com/fcm/send/u"),
                            content_type="application/json")
    assert known.status_code == unknown.status_code == 201
    assert known.json() == unknown.json()
    with tenant_scope(tenant_a):  # the subscription is still linked to the contact behind the scenes
        assert PushSubscription.objects.get(endpoint__endswith="/k").contact == world["contact"]
