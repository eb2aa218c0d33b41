"""POST /api/v1/conversions: API-key auth, validation with field messages, attribution window
edges, tenant isolation and the per-key rate limit."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from analytics.models import Conversion
from campaigns.models import Campaign, CampaignRun, Delivery, DeliveryStatus
from channels import ratelimit
from tenants.api import api_rate_key
from tenants.scoping import scopes_disabled, tenant_scope
from tenants.services import api_key_create, api_key_revoke
from tests.analytics.helpers import contact

URL = "/api/v1/conversions"
SENT_AT = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()


@pytest.fixture
def key_a(tenant_a, owner):
    with tenant_scope(tenant_a):
        api_key, raw = api_key_create(tenant=tenant_a, name="shop", actor=owner)
    ratelimit.reset(api_rate_key(api_key, "conversions"))
    return api_key, raw


@pytest.fixture
def key_b(tenant_b, outsider):
    with tenant_scope(tenant_b):
        api_key, raw = api_key_create(tenant=tenant_b, name="shop", actor=outsider)
    ratelimit.reset(api_rate_key(api_key, "conversions"))
    return raw


@pytest.fixture
def sent_delivery(tenant_a):
    """A contact with one email sent at SENT_AT."""
    with tenant_scope(tenant_a):
        person = contact(tenant_a, 1, email="asha@example.com", phone="+919800000001")
        campaign = Campaign.objects.create(tenant=tenant_a, name="Offer", channels=["email"], status="completed")
        run = CampaignRun.objects.create(tenant=tenant_a, campaign=campaign, occurrence_at=SENT_AT, status="completed")
        return Delivery.objects.create(tenant=tenant_a, run=run, campaign=campaign, contact=person, channel="email",
                                       address=person.email, status=DeliveryStatus.SENT, sent_at=SENT_AT)


def post(raw_key, body, **headers):
    if raw_key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
    return Client().post(URL, data=json.dumps(body), content_type="application/json", **headers)


def _count() -> int:
    with scopes_disabled():
        return Conversion.objects.count()


@pytest.mark.django_db
def test_missing_wrong_or_revoked_keys_get_401_and_nothing_is_stored(key_a, sent_delivery, tenant_a):
    api_key, raw = key_a
    body = {"event": "purchase", "delivery": str(sent_delivery.uuid)}
    assert post(None, body).status_code == 401
    assert post(raw[:-2] + "xx", body).status_code == 401
    with tenant_scope(tenant_a):
        api_key_revoke(api_key=api_key)
    response = post(raw, body)
    assert response.status_code == 401 and "API key" in response.json()["error"]
    assert _count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("body, field, words", [
    ({"delivery": "x"}, "event", "Name the event"),
    ({"event": "buy", "revenue": "-3", "email": "asha@example.com"}, "revenue", "non-negative"),
    ({"event": "buy", "revenue": "lots", "email": "asha@example.com"}, "revenue", "non-negative"),
    ({"event": "buy", "occurred_at": "yesterday", "email": "asha@example.com"}, "occurred_at", "ISO 8601"),
    ({"event": "buy", "occurred_at": "2099-01-01T00:00:00Z", "email": "asha@example.com"}, "occurred_at", "future"),
    ({"event": "buy"}, "contact", "Give one of"),
    ({"event": "buy", "email": "asha@example.com", "phone": "+919800000001"}, "contact", "only one"),
    ({"event": "buy", "email": "nobody@example.com"}, "email", "No contact"),
    ({"event": "buy", "delivery": "not-a-uuid"}, "delivery", "No delivery"),
])
def test_invalid_conversions_get_400_with_a_message_for_the_field(key_a, sent_delivery, body, field, words):
    response = post(key_a[1], body)
    assert response.status_code == 400
    assert words in response.json()["fields"][field]
    assert _count() == 0


@pytest.mark.django_db
def test_a_body_that_is_not_json_gets_400(key_a):
    response = Client().post(URL, data="event=buy", content_type="application/x-www-form-urlencoded",
                             HTTP_AUTHORIZATION=f"Bearer {key_a[1]}")
    assert response.status_code == 400 and "JSON" in response.json()["fields"]["body"]


@pytest.mark.django_db
def test_a_conversion_naming_its_delivery_is_attributed_to_that_campaign(key_a, sent_delivery, tenant_a):
    response = post(key_a[1], {"event": "purchase", "revenue": "49.90", "delivery": str(sent_delivery.uuid)})
    assert response.status_code == 201
    assert response.json()["attributed"] and response.json()["campaign"] == str(sent_delivery.campaign_id)
    with tenant_scope(tenant_a):
        conversion = Conversion.objects.get()
    assert (conversion.revenue, conversion.channel, conversion.contact_id) == (
        Decimal("49.90"), "email", sent_delivery.contact_id)


@pytest.mark.django_db
@pytest.mark.parametrize("after, attributed", [
    (dt.timedelta(days=7) - dt.timedelta(seconds=1), True),   # just inside the window
    (dt.timedelta(days=7), True),                               # on the edge: still inside
    (dt.timedelta(days=7, seconds=1), False),                   # just outside
    (-dt.timedelta(seconds=1), False),                          # before the message was sent
])
def test_attribution_window_edges(key_a, sent_delivery, tenant_a, settings, after, attributed):
    settings.ATTRIBUTION_WINDOW_DAYS = 7
    occurred = SENT_AT + after
    response = post(key_a[1], {"event": "signup", "phone": "98000 00001", "occurred_at": occurred.isoformat()})
    assert response.status_code == 201
    assert response.json()["attributed"] is attributed
    with tenant_scope(tenant_a):
        conversion = Conversion.objects.get()
    # Unattributed conversions are kept for the contact, but count for no campaign.
    assert conversion.contact_id == sent_delivery.contact_id
    assert conversion.campaign_id == (sent_delivery.campaign_id if attributed else None)


@pytest.mark.django_db
def test_the_window_is_a_setting(key_a, sent_delivery, settings):
    settings.ATTRIBUTION_WINDOW_DAYS = 1
    occurred = SENT_AT + dt.timedelta(days=2)
    response = post(key_a[1], {"event": "signup", "email": "ASHA@example.com", "occurred_at": occurred.isoformat()})
    assert response.status_code == 201 and response.json()["attributed"] is False


@pytest.mark.django_db
def test_the_last_sent_delivery_wins(key_a, sent_delivery, tenant_a):
    with tenant_scope(tenant_a):
        later = Delivery.objects.create(tenant=tenant_a, run=sent_delivery.run, campaign=sent_delivery.campaign,
                                        contact=sent_delivery.contact, channel="sms", address="+919800000001",
                                        status=DeliveryStatus.DELIVERED, sent_at=SENT_AT + dt.timedelta(hours=2))
    occurred = SENT_AT + dt.timedelta(days=1)
    response = post(key_a[1], {"event": "buy", "contact_id": str(sent_delivery.contact_id),
                               "occurred_at": occurred.isoformat()})
    assert response.json()["delivery"] == str(later.uuid)


@pytest.mark.django_db
def test_another_tenants_key_cannot_reach_this_tenants_deliveries_or_contacts(key_b, sent_delivery):
    assert post(key_b, {"event": "buy", "delivery": str(sent_delivery.uuid)}).status_code == 400
    assert post(key_b, {"event": "buy", "contact_id": str(sent_delivery.contact_id)}).status_code == 400
    assert post(key_b, {"event": "buy", "email": "asha@example.com"}).status_code == 400
    assert _count() == 0


@pytest.mark.django_db
def test_a_key_over_its_rate_gets_429_with_retry_after(key_a, sent_delivery, settings):
    settings.API_RATE_PER_SECOND = 0.01
    settings.API_RATE_BURST = 2
    body = {"event": "buy", "delivery": str(sent_delivery.uuid)}
    assert [post(key_a[1], body).status_code for _ in range(2)] == [201, 201]
    limited = post(key_a[1], body)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert _count() == 2


@pytest.mark.django_db
def test_only_post_is_allowed(key_a):
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {key_a[1]}").status_code == 405
