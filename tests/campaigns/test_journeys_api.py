"""POST /api/v1/events: authentication, validation, rate limit, and the journeys an event starts."""

from __future__ import annotations

import json

import pytest

from audiences.models import ConsentState, Contact
from campaigns.journeys.services import journey_campaign_launch
from campaigns.journeys.workflow import step_add, step_update
from campaigns.models import (
    Campaign,
    CampaignTrigger,
    CampaignType,
    ContactEvent,
    EntryFrequency,
    Journey,
    StepKind,
    TriggerKind,
)
from channels import ratelimit
from channels.models import ChannelConfig
from tenants.api import api_rate_key
from tenants.scoping import tenant_scope
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db


def new_key(tenant, actor) -> str:
    with tenant_scope(tenant):
        api_key, raw = api_key_create(tenant=tenant, name="shop", actor=actor)
    ratelimit.reset(api_rate_key(api_key, "events"))  # buckets live in Redis and outlast the test database
    return raw


@pytest.fixture
def key_a(tenant_a, owner):
    return new_key(tenant_a, owner)


@pytest.fixture
def asha(tenant_a):
    with tenant_scope(tenant_a):
        return Contact.objects.create(tenant=tenant_a, first_name="Asha", email="asha@example.com",
                                      phone="+919812345678", consent_email=ConsentState.OPTED_IN)


@pytest.fixture
def cart_campaign(tenant_a):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="mail", channel="email", provider="sandbox", settings={},
                               rate_per_second=100.0, is_default=True)
        config.set_secrets({})
        config.save()
        c = Campaign.objects.create(tenant=tenant_a, name="Cart rescue", type=CampaignType.TRIGGERED)
        CampaignTrigger.objects.create(tenant=tenant_a, campaign=c, kind=TriggerKind.EVENT, event_name="cart_abandoned",
                                       event_filter=[{"key": "cart_value", "op": "gte", "value": "1000"}],
                                       frequency=EntryFrequency.EVERY_TIME)
        step = step_add(campaign=c, kind=StepKind.SEND)
        step_update(step=step, values={"channel": "email", "data": {"subject": "Your cart", "html": "<p>Come back</p>"}})
        journey_campaign_launch(campaign=c)
        return c


def post(client, key, body, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    payload = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/v1/events", payload, content_type="application/json", **headers, **extra)


def test_an_event_is_recorded_and_starts_the_matching_campaigns_journey(client, key_a, asha, cart_campaign, tenant_a):
    response = post(client, key_a, {"event": "cart_abandoned", "contact": {"email": " ASHA@example.com "},
                                    "properties": {"cart_value": 2499, "currency": "INR"}})
    assert response.status_code == 202
    assert response.json()["journeys_started"] == 1
    with tenant_scope(tenant_a):
        event = ContactEvent.objects.get()
        assert (event.contact_id, event.name, event.properties["cart_value"]) == (asha.pk, "cart_abandoned", 2499)
        assert Journey.objects.get(campaign=cart_campaign).event_id == event.pk


def test_an_event_failing_the_property_filter_is_recorded_but_starts_nothing(client, key_a, asha, cart_campaign):
    response = post(client, key_a, {"event": "cart_abandoned", "contact": {"phone": "98123 45678"},
                                    "properties": {"cart_value": 200}})
    assert response.status_code == 202 and response.json()["journeys_started"] == 0


def test_another_event_name_starts_nothing(client, key_a, asha, cart_campaign):
    response = post(client, key_a, {"event": "order_placed", "contact": {"id": str(asha.pk)}})
    assert response.status_code == 202 and response.json()["journeys_started"] == 0


def test_without_a_valid_key_the_answer_is_401_and_nothing_is_stored(client, asha, cart_campaign, tenant_a):
    assert post(client, None, {"event": "cart_abandoned", "contact": {"id": str(asha.pk)}}).status_code == 401
    assert post(client, "cpk_wrong", {"event": "cart_abandoned", "contact": {"id": str(asha.pk)}}).status_code == 401
    with tenant_scope(tenant_a):
        assert not ContactEvent.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ("not json", "body"),
    ([1, 2], "body"),
    ({"contact": {"email": "asha@example.com"}}, "event"),
    ({"event": "has spaces", "contact": {"email": "asha@example.com"}}, "event"),
    ({"event": "x", "contact": {}}, "contact"),
    ({"event": "x", "contact": {"email": "not-an-email"}}, "contact"),
    ({"event": "x", "contact": {"id": "42"}}, "contact"),
    ({"event": "x", "contact": {"email": "asha@example.com"}, "properties": [1]}, "properties"),
    ({"event": "x", "contact": {"email": "asha@example.com"}, "occurred_at": "yesterday"}, "occurred_at"),
    ({"event": "x", "contact": {"email": "asha@example.com"}, "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
])
def test_bad_input_answers_400_naming_the_field(client, key_a, asha, body, field):
    response = post(client, key_a, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_an_unknown_contact_answers_404(client, key_a):
    response = post(client, key_a, {"event": "cart_abandoned", "contact": {"email": "nobody@example.com"}})
    assert response.status_code == 404
    assert "No contact" in response.json()["error"]


def test_another_tenants_contact_is_not_found(client, asha, tenant_b, outsider):
    raw_b = new_key(tenant_b, outsider)
    response = post(client, raw_b, {"event": "cart_abandoned", "contact": {"id": str(asha.pk)}})
    assert response.status_code == 404


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(client, key_a, asha, settings):
    settings.EVENTS_API_RATE_PER_SECOND = 0.01
    settings.EVENTS_API_BURST = 2
    body = {"event": "page_view", "contact": {"id": str(asha.pk)}}
    codes = [post(client, key_a, body).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    limited = post(client, key_a, body)
    assert int(limited["Retry-After"]) >= 1


def test_get_is_not_allowed(client, key_a):
    assert client.get("/api/v1/events", HTTP_AUTHORIZATION=f"Bearer {key_a}").status_code == 405
