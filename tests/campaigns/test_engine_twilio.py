"""Dispatch through the real Twilio adapter against the fake Twilio API over HTTP: acceptance,
a 429 retried after the provider's Retry-After, a permanent error failing once with the
provider's code, and 21610 (replied STOP) suppressing the number for the tenant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from audiences.models import ConsentState, Contact, Suppression
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun, DeliveryStatus, RunChannelStats
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

SID = "AC" + "1" * 32
TOKEN = "auth-token-0123456789abcdef"


@pytest.fixture
def sms_campaign(tenant_a, fakes):
    from django.core.cache import cache

    cache.clear()
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Twilio", channel="sms", provider="twilio_sms",
                               settings={"account_sid": SID, "from_number": "+15005550006"},
                               rate_per_second=100, unit_cost=Decimal("0.0079"), is_default=True)
        config.set_secrets({"auth_token": TOKEN})
        config.save()
        campaign = Campaign.objects.create(
            tenant=tenant_a, name="Flash sale", channels=["sms"], audience_everyone=True,
            calling_hours_start=dt.time(0), calling_hours_end=dt.time(23, 59, 59),
        )
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="sms",
                                       data={"text": "Hi {{ first_name }}, 30% off today. Reply STOP to opt out"})
        yield campaign


def add(tenant, name, phone):
    return Contact.objects.create(tenant=tenant, first_name=name, phone=phone, consent_sms=ConsentState.OPTED_IN)


def launch(campaign) -> CampaignRun:
    services.campaign_launch(campaign=campaign)
    run = CampaignRun.objects.get(campaign=campaign)
    run_fan_out(run_id=run.pk)
    return run


def test_each_message_reaches_twilio_once_with_the_rendered_text(sms_campaign, fakes):
    tenant = sms_campaign.tenant
    add(tenant, "Asha", "+919800000001")
    add(tenant, "Ravi", "+919800000002")
    run = launch(sms_campaign)
    assert run_dispatch(run_id=run.pk, channel="sms") == "done"
    sent = fakes.received("twilio", kind="message")
    assert sorted(m["params"]["Body"] for m in sent) == [
        "Hi Asha, 30% off today. Reply STOP to opt out", "Hi Ravi, 30% off today. Reply STOP to opt out"]
    assert set(run.deliveries.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert all(d.provider_message_id.startswith("SM") for d in run.deliveries.all())
    # Twilio's status callback names our delivery, so callbacks match even before our write-back.
    uuids = {str(u) for u in run.deliveries.values_list("uuid", flat=True)}
    assert {m["params"]["StatusCallback"].rsplit("?d=", 1)[1] for m in sent} == uuids


def test_a_429_is_retried_after_the_providers_retry_after(sms_campaign, fakes):
    add(sms_campaign.tenant, "Asha", "+919800000001")
    run = launch(sms_campaign)
    fakes.fault("twilio", status=429, count=1, retry_after=3)
    before = timezone.now()
    run_dispatch(run_id=run.pk, channel="sms")
    d = run.deliveries.get()
    assert d.status == DeliveryStatus.PENDING and d.error_code == "20429"
    assert dt.timedelta(seconds=2) < d.not_before - before < dt.timedelta(seconds=10)
    run.deliveries.update(not_before=timezone.now())  # the wait is over
    run_dispatch(run_id=run.pk, channel="sms")
    d.refresh_from_db()
    assert (d.status, d.attempts) == (DeliveryStatus.SENT, 2)
    # Twilio saw two requests: the one it refused with 429 and the retry it accepted.
    assert len(fakes.received("twilio", kind="message")) == 2


def test_a_permanent_error_fails_once_and_stop_suppresses_the_number(sms_campaign, fakes):
    tenant = sms_campaign.tenant
    add(tenant, "Invalid", "+15005550001")       # 21211 invalid number
    add(tenant, "Stopped", "+15005550004")       # 21610 replied STOP
    run = launch(sms_campaign)
    run_dispatch(run_id=run.pk, channel="sms")
    rows = {d.contact.first_name: d for d in run.deliveries.select_related("contact")}
    assert (rows["Invalid"].status, rows["Invalid"].error_code, rows["Invalid"].attempts) == ("failed", "21211", 1)
    assert (rows["Stopped"].status, rows["Stopped"].error_code) == ("failed", "21610")
    assert Suppression.objects.filter(tenant=tenant, kind="phone", value="+15005550004").exists()
    assert not Suppression.objects.filter(value="+15005550001").exists()
    assert RunChannelStats.objects.get(run=run).failed == 2
    sms_campaign.refresh_from_db()
    assert sms_campaign.status == "failed"  # every delivery failed
