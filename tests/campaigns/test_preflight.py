"""The review's figures on PostgreSQL: who is left out per channel and why, cost with SMS segments,
time-zone buckets, the expected finish under rates and calling hours, and the warnings."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audiences.models import ConsentState, Contact, PushSubscription, Suppression, SuppressionKind
from campaigns import preflight
from campaigns.models import (
    Campaign,
    CampaignContent,
    ChannelBudget,
    MessageTemplate,
    SendMode,
    TemplateStatus,
)
from channels.models import ChannelConfig
from social_accounts.models import SocialAccount, Status

IN, OUT = ConsentState.OPTED_IN, ConsentState.OPTED_OUT
NOW = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)  # 11:30 in Kolkata, 01:00 in New York


def config(tenant, channel, *, rate=10.0, cost="0.01"):
    c = ChannelConfig(tenant=tenant, name=f"{channel} sandbox", channel=channel, provider="sandbox", settings={},
                      rate_per_second=rate, unit_cost=Decimal(cost), is_default=True)
    c.set_secrets({})
    c.save()
    return c


def person(tenant, n, **kw):
    fields = {"first_name": f"P{n}", "email": f"p{n}@example.com", "phone": f"+9198000{n:05d}",
              "consent_email": IN, "consent_sms": IN}
    fields.update(kw)
    return Contact.objects.create(tenant=tenant, **fields)


@pytest.fixture
def campaign(in_tenant_a):
    tenant = in_tenant_a
    c = Campaign.objects.create(tenant=tenant, name="Sale", channels=["email", "sms", "push"], audience_everyone=True)
    CampaignContent.objects.create(tenant=tenant, campaign=c, channel="email", data={"subject": "Hi {{ first_name }}",
                                                                                    "html": "<p>Hello</p><script>x</script>"})
    CampaignContent.objects.create(tenant=tenant, campaign=c, channel="sms",
                                   data={"text": "Hi {{ first_name }}, big sale. Reply STOP to opt out"})
    CampaignContent.objects.create(tenant=tenant, campaign=c, channel="push", data={"title": "Sale"})
    return c


@pytest.mark.django_db
def test_left_out_reasons_per_channel_in_one_query(campaign, in_tenant_a):
    t = in_tenant_a
    person(t, 1)                                            # everything fine
    person(t, 2, email="", consent_sms=OUT)                 # email: no address; sms: opted out
    person(t, 3, consent_sms=ConsentState.UNKNOWN)          # sms: no opt-in (opt-in required)
    person(t, 4, consent_email=OUT)                         # email: opted out
    p5 = person(t, 5)
    Suppression.objects.create(tenant=t, kind=SuppressionKind.EMAIL, value=p5.email)  # email: suppressed
    Suppression.objects.create(tenant=t, kind=SuppressionKind.PHONE, value=p5.phone)  # sms: suppressed
    person(t, 6, phone="")                                  # sms: no address
    PushSubscription.objects.create(tenant=t, contact=Contact.objects.get(first_name="P1"),
                                    endpoint="https://push.example/1", p256dh="k", auth="a")
    with CaptureQueriesContext(connection) as queries:
        rows = {r.channel: r for r in preflight.recipients_by_channel(campaign)}
    assert len(queries) == 1
    email, sms, push = rows["email"], rows["sms"], rows["push"]
    assert (email.audience, email.recipients) == (6, 3)
    assert (email.no_address, email.opted_out, email.suppressed) == (1, 1, 1)
    assert (sms.recipients, sms.no_address, sms.opted_out, sms.no_opt_in, sms.suppressed) == (2, 1, 1, 1, 1)
    assert sms.left_out == 4 and ("No opt-in", 1) in sms.reasons
    assert (push.recipients, push.no_address) == (1, 5)


@pytest.mark.django_db
def test_duplicate_addresses_are_counted_once(in_tenant_a):
    t = in_tenant_a
    c = Campaign.objects.create(tenant=t, name="TG", channels=["telegram"], audience_everyone=True)
    for n in range(3):
        person(t, n, telegram_chat_id="777")  # a family sharing one Telegram chat
    person(t, 9, telegram_chat_id="888")
    [row] = preflight.recipients_by_channel(c)
    assert (row.recipients, row.duplicate, row.left_out) == (2, 2, 2)
    assert ("Duplicate address", 2) in row.reasons


@pytest.mark.django_db
def test_timezone_buckets_use_the_workspace_zone_for_contacts_without_one(campaign, in_tenant_a):
    t = in_tenant_a
    person(t, 1, timezone="America/New_York")
    person(t, 2, timezone="America/New_York", consent_sms=OUT)
    person(t, 3)
    person(t, 4, timezone="Asia/Kolkata")
    person(t, 5, consent_email=OUT, consent_sms=OUT)  # reachable nowhere: in no bucket
    buckets = {b.name: b for b in preflight.timezone_buckets(campaign)}
    assert set(buckets) == {"America/New_York", "Asia/Kolkata"}
    assert buckets["America/New_York"].counts == {"email": 2, "sms": 1, "push": 0}
    assert buckets["Asia/Kolkata"].counts == {"email": 2, "sms": 2, "push": 0}  # one blank + one explicit
    assert buckets["Asia/Kolkata"].from_contact


@pytest.mark.django_db
def test_cost_counts_sms_segments_of_the_rendered_sample_and_compares_with_the_budget(campaign, in_tenant_a):
    t = in_tenant_a
    config(t, "email", cost="0.001")
    config(t, "sms", cost="0.05")
    for n in range(10):
        person(t, n)
    CampaignContent.objects.filter(campaign=campaign, channel="sms").update(
        data={"text": "Hi {{ first_name }} " + "x" * 150 + " Reply STOP to opt out"})  # 2 segments
    ChannelBudget.objects.create(tenant=t, campaign=campaign, channel="sms", allocated=Decimal("0.50"))
    pf = preflight.campaign_preflight(campaign, now=NOW)
    est = {e.channel: e for e in pf.estimates}
    assert est["sms"].units_per_message == 2
    assert est["sms"].cost == Decimal("1.00")  # 10 recipients x 2 segments x 0.05
    assert est["sms"].over_budget and not est["email"].over_budget
    assert est["email"].cost == Decimal("0.01")
    assert est["push"].config_name == "" and "Push has no enabled channel configuration." in pf.warnings
    assert any("SMS is 2 segments" in w for w in pf.warnings)
    assert any("over its budget of 0.50" in w for w in pf.warnings)


@pytest.mark.django_db
def test_finish_time_follows_rate_throttle_and_calling_hours(campaign, in_tenant_a):
    t = in_tenant_a
    config(t, "email", rate=1.0)
    config(t, "sms", rate=100.0)
    for n in range(4):
        person(t, n, timezone="America/New_York")
    for n in range(4, 10):
        person(t, n)  # Kolkata (workspace)
    pf = preflight.campaign_preflight(campaign, now=NOW)
    est = {e.channel: e for e in pf.estimates}
    # Email: no calling hours, 10 messages at 1/s.
    assert est["email"].finish_at == NOW + dt.timedelta(seconds=10)
    # SMS: Kolkata is inside 08:00-21:00 now; New York waits until 08:00 local (13:00 UTC).
    assert est["sms"].finish_at == dt.datetime(2026, 11, 23, 13, 0, 0, 40000, tzinfo=dt.UTC)
    assert not any("outside calling hours" in w for w in pf.warnings)  # Kolkata, the workspace zone, is open

    Campaign.objects.filter(pk=campaign.pk).update(throttle_per_minute=6)  # 0.1 per second
    campaign.refresh_from_db()
    est = {e.channel: e for e in preflight.campaign_preflight(campaign, now=NOW).estimates}
    assert est["email"].finish_at == NOW + dt.timedelta(seconds=100)


def test_finish_time_spills_into_the_next_days_window():
    tz = zoneinfo.ZoneInfo("Asia/Kolkata")
    start = dt.datetime(2026, 11, 23, 20, 59, tzinfo=tz)  # one minute before the window closes
    end = preflight.finish_time(start=start, rate_per_second=1.0, buckets=[(tz, 120)],
                                window=(dt.time(8), dt.time(21)))
    assert end == dt.datetime(2026, 11, 24, 8, 1, tzinfo=tz)


@pytest.mark.django_db
def test_warnings_for_template_opt_out_text_past_schedule_and_social_accounts(in_tenant_a):
    t = in_tenant_a
    template = MessageTemplate.objects.create(tenant=t, name="offer", body="Hi {{1}}", status=TemplateStatus.SUBMITTED)
    c = Campaign.objects.create(tenant=t, name="Mixed", channels=["sms", "whatsapp", "social"], audience_everyone=True,
                                send_mode=SendMode.SCHEDULED, scheduled_at=NOW - dt.timedelta(hours=1))
    CampaignContent.objects.create(tenant=t, campaign=c, channel="sms", data={"text": "Big sale today"})
    CampaignContent.objects.create(tenant=t, campaign=c, channel="whatsapp",
                                   data={"mode": "template", "template_id": str(template.pk), "variables": ["x"]})
    SocialAccount.objects.create(tenant=t, platform="x", handle="@shop", status=Status.EXPIRED)
    warnings = preflight.campaign_preflight(c, now=NOW).warnings
    assert "The WhatsApp template is submitted: only approved templates can be sent." in warnings
    assert any("no opt-out text" in w for w in warnings)
    assert "The scheduled time is in the past: choose a later time or send now." in warnings
    assert any(w.startswith("Social account") and "expired" in w for w in warnings)


@pytest.mark.django_db
def test_outside_calling_hours_now_is_warned(in_tenant_a):
    t = in_tenant_a
    c = Campaign.objects.create(tenant=t, name="Night", channels=["sms"], audience_everyone=True)
    CampaignContent.objects.create(tenant=t, campaign=c, channel="sms", data={"text": "Hi. Reply STOP to opt out"})
    night = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)  # 22:30 in Kolkata
    warnings = preflight.campaign_preflight(c, now=night).warnings
    assert any("outside calling hours (08:00–21:00, Asia/Kolkata) now" in w for w in warnings)


@pytest.mark.django_db
def test_previews_render_for_a_sample_contact_and_sanitize_email(campaign, in_tenant_a):
    person(in_tenant_a, 1, first_name="Asha")
    pf = preflight.campaign_preflight(campaign, now=NOW)
    previews = {p.channel: p for p in pf.previews}
    assert previews["email"].fields == [("Subject", "Hi Asha")]
    assert "<script>" not in previews["email"].html and "<p>Hello</p>" in previews["email"].html
    assert previews["sms"].fields[0][1].startswith("Hi Asha, big sale")
    assert pf.sample_name == "Asha"


@pytest.mark.django_db
def test_previews_fall_back_to_a_sample_person_and_show_content_errors(in_tenant_a):
    c = Campaign.objects.create(tenant=in_tenant_a, name="Empty", channels=["sms", "push"], audience_everyone=True)
    CampaignContent.objects.create(tenant=in_tenant_a, campaign=c, channel="sms", data={"text": "Hi {{ first_name }}"})
    previews = {p.channel: p for p in preflight.campaign_preflight(c, now=NOW).previews}
    assert previews["sms"].fields == [("Message", "Hi Alex")]
    assert previews["push"].error == "A push notification needs a title."


@pytest.mark.django_db
def test_optimal_time_shows_the_hour_distribution_and_bounds_the_finish(in_tenant_a):
    from campaigns.models import ContactSendTime

    t = in_tenant_a
    config(t, "email")
    c = Campaign.objects.create(tenant=t, name="Best hour", channels=["email"], audience_everyone=True,
                                send_mode=SendMode.OPTIMAL, optimal_window_hours=12)
    CampaignContent.objects.create(tenant=t, campaign=c, channel="email", data={"subject": "Hi", "html": "<p>x</p>"})
    early = person(t, 1)
    person(t, 2)
    ContactSendTime.objects.create(tenant=t, contact=early, best_hour=7, samples=5, computed_at=NOW)
    pf = preflight.campaign_preflight(c, now=NOW)
    assert pf.optimal_hours[7] == 2  # the other contact gets the audience's most common hour
    assert pf.optimal_rows == [(7, 2, 100)]
    assert pf.estimates[0].finish_at == NOW + dt.timedelta(hours=12)
