"""Building blocks for analytics tests: sandbox configs, contacts, a campaign run end to end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun
from channels.models import ChannelConfig

IN = ConsentState.OPTED_IN

CONTENT = {
    "email": {"subject": "Hi {{ first_name }}",
              "html": '<html><body><p>Sale: <a href="https://shop.example.com/sale?x=1&amp;y=2">shop</a> '
                      '<a href="mailto:help@example.com">help</a></p></body></html>'},
    "sms": {"text": "Hi {{ first_name }}, 20% off at https://shop.example.com/sms. Reply STOP to opt out"},
}


def sandbox(tenant, channel: str, cost: str = "0.01") -> ChannelConfig:
    config = ChannelConfig(tenant=tenant, name=f"{channel} sandbox", channel=channel, provider="sandbox",
                           settings={}, rate_per_second=1000.0, unit_cost=Decimal(cost), is_default=True)
    config.set_secrets({})
    config.save()
    return config


def contact(tenant, n: int, **kw) -> Contact:
    defaults = {"first_name": f"C{n}", "email": f"c{n}@example.com", "phone": f"+9198000{n:05d}",
                "consent_email": IN, "consent_sms": IN}
    defaults.update(kw)
    return Contact.objects.create(tenant=tenant, **defaults)


def make_campaign(tenant, channels=("email", "sms"), name="Diwali sale", **kw) -> Campaign:
    kw.setdefault("audience_everyone", True)
    # Any hour of the day: these tests are not about SMS calling hours (08:00-21:00 recipient-local
    # by default), and must not fail when the suite runs in the evening.
    kw.setdefault("calling_hours_start", dt.time(0))
    kw.setdefault("calling_hours_end", dt.time(23, 59, 59, 999999))
    campaign = Campaign.objects.create(tenant=tenant, name=name, channels=list(channels), **kw)
    for ch in channels:
        CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel=ch, data=CONTENT[ch])
    return campaign


def run_campaign(campaign: Campaign) -> CampaignRun:
    """Launch, fan out and send everything through the sandbox provider."""
    campaign = services.campaign_launch(campaign=campaign)
    run = CampaignRun.objects.get(campaign=campaign)
    run_fan_out(run_id=run.pk)
    for channel in campaign.channels:
        while run_dispatch(run_id=run.pk, channel=channel, time_budget=30) == "continue":
            pass
    run.refresh_from_db()
    return run
