"""Optimal send time from synthetic engagement histories: each contact's own local hour, the
audience-wide fallback, the tenant default, time zones and a daylight-saving change."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.engine.fanout import run_fan_out
from campaigns.engine.optimal import next_local_hour, optimal_hour_distribution, send_times_refresh
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    ContactSendTime,
    Delivery,
    DeliveryStatus,
    SendMode,
)
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)  # 08:30 in Kolkata, 22:00 (previous day) in New York


@pytest.fixture
def world(tenant_a):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Email", channel="email", provider="sandbox", settings={},
                               rate_per_second=100, unit_cost=Decimal("0"), is_default=True)
        config.set_secrets({})
        config.save()
        old = Campaign.objects.create(tenant=tenant_a, name="History", channels=["email"])
        history = CampaignRun.objects.create(tenant=tenant_a, campaign=old, occurrence_at=NOW - dt.timedelta(days=30))
        yield tenant_a, old, history


def person(tenant, name, tz=""):
    return Contact.objects.create(tenant=tenant, first_name=name, email=f"{name.lower()}@example.com", timezone=tz,
                                  consent_email=ConsentState.OPTED_IN)


def opened(tenant, campaign, run, contact, local_times, tz):
    """Synthetic history: one delivery per time, opened at that local wall-clock time."""
    rows = []
    for n, local in enumerate(local_times):
        at = local.replace(tzinfo=tz)
        rows.append(Delivery(tenant=tenant, run=run, campaign=campaign, contact=contact, channel="email", step=n,
                             address=contact.email, status=DeliveryStatus.READ, sent_at=at - dt.timedelta(hours=1),
                             read_at=at))
    Delivery.objects.bulk_create(rows)


def days(n, hour, start=dt.datetime(2026, 11, 1)):
    return [start.replace(hour=hour) + dt.timedelta(days=d) for d in range(n)]


def test_each_contact_gets_the_local_hour_they_engage_most_in_their_own_zone(world):
    tenant, old, history = world
    asha = person(tenant, "Asha")                       # tenant zone: Kolkata
    liam = person(tenant, "Liam", "America/New_York")
    opened(tenant, old, history, asha, days(5, 19) + days(2, 9, dt.datetime(2026, 10, 1)), KOLKATA)
    opened(tenant, old, history, liam, days(4, 7), NEW_YORK)
    assert send_times_refresh(tenant=tenant, now=NOW) == 2
    best = dict(ContactSendTime.objects.values_list("contact__first_name", "best_hour"))
    assert best == {"Asha": 19, "Liam": 7}


def test_contacts_with_too_little_history_are_left_to_the_fallback(world):
    tenant, old, history = world
    nina = person(tenant, "Nina")
    opened(tenant, old, history, nina, days(2, 11), KOLKATA)  # two opens: not enough to judge
    assert send_times_refresh(tenant=tenant, now=NOW) == 0


def test_engagement_older_than_90_days_is_ignored(world):
    tenant, old, history = world
    omar = person(tenant, "Omar")
    opened(tenant, old, history, omar, days(5, 6, dt.datetime(2026, 6, 1)), KOLKATA)
    assert send_times_refresh(tenant=tenant, now=NOW) == 0


def test_an_optimal_time_campaign_waits_for_each_recipients_hour(world):
    tenant, old, history = world
    asha = person(tenant, "Asha")
    liam = person(tenant, "Liam", "America/New_York")
    opened(tenant, old, history, asha, days(5, 19), KOLKATA)
    opened(tenant, old, history, liam, days(4, 7), NEW_YORK)
    person(tenant, "Zoe")                                 # no history: the audience-wide best hour
    send_times_refresh(tenant=tenant, now=NOW)
    campaign = Campaign.objects.create(tenant=tenant, name="Sale", channels=["email"], audience_everyone=True,
                                       send_mode=SendMode.OPTIMAL, optimal_window_hours=24)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="email",
                                   data={"subject": "Sale", "html": "<p>Now on</p>"})
    with time_machine.travel(NOW, tick=False):
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
    due = {d.contact.first_name: d.not_before for d in run.deliveries.select_related("contact")}
    assert due["Asha"] == dt.datetime(2026, 11, 23, 19, 0, tzinfo=KOLKATA)
    assert due["Liam"] == dt.datetime(2026, 11, 23, 7, 0, tzinfo=NEW_YORK)
    # Asha and Liam each weigh one vote; ties go to the earlier hour, 07:00, in Zoe's own zone.
    assert due["Zoe"] == dt.datetime(2026, 11, 24, 7, 0, tzinfo=KOLKATA)
    assert optimal_hour_distribution(tenant=tenant, contacts=Contact.objects.filter(tenant=tenant))[7] == 2


def test_with_no_history_at_all_the_tenants_default_hour_is_used(world):
    tenant, _old, _history = world
    tenant.default_send_hour = 11
    tenant.save()
    person(tenant, "Ravi")
    campaign = Campaign.objects.create(tenant=tenant, name="Sale", channels=["email"], audience_everyone=True,
                                       send_mode=SendMode.OPTIMAL, optimal_window_hours=24)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="email",
                                   data={"subject": "Sale", "html": "<p>Now on</p>"})
    with time_machine.travel(NOW, tick=False):
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
    assert run.deliveries.get().not_before == dt.datetime(2026, 11, 23, 11, 0, tzinfo=KOLKATA)


def test_the_next_local_hour_is_wall_clock_correct_across_daylight_saving():
    # 2026-11-01 01:30 EDT; New York falls back at 02:00. 09:00 the same day is EST (14:00 UTC).
    before = dt.datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    assert next_local_hour(before, NEW_YORK, 9) == dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC)
    # And the evening before, 09:00 the next morning is still 09:00 local, after the change.
    evening = dt.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK)
    assert next_local_hour(evening, NEW_YORK, 9).astimezone(NEW_YORK).hour == 9
