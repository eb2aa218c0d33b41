"""Small builders for the grid, detail and template tests (call inside the tenant's scope)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from audiences.models import Contact
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    RunChannelStats,
    RunStatus,
)


def campaign(tenant, name="Spring sale", *, status="draft", channels=("sms",), **fields) -> Campaign:
    c = Campaign.objects.create(tenant=tenant, name=name, status=status, channels=list(channels), **fields)
    for channel in channels:
        CampaignContent.objects.create(tenant=tenant, campaign=c, channel=channel, data={"text": f"Hi from {name}"})
    return c


def run(c: Campaign, *, status=RunStatus.SENDING, counters: dict[str, dict[str, int]] | None = None,
        when: dt.datetime | None = None) -> CampaignRun:
    r = CampaignRun.objects.create(tenant_id=c.tenant_id, campaign=c, occurrence_at=when or timezone.now(),
                                   status=status, fanned_out_at=timezone.now())
    for channel in c.channels:
        RunChannelStats.objects.create(tenant_id=c.tenant_id, run=r, campaign=c, channel=channel,
                                       **(counters or {}).get(channel, {}))
    return r


def contact(tenant, first="Asha", **fields) -> Contact:
    fields.setdefault("phone", "+919800000001")
    fields.setdefault("email", f"{first.lower()}@example.com")
    return Contact.objects.create(tenant=tenant, first_name=first, last_name="Rao", **fields)


def delivery(r: CampaignRun, person: Contact | None, *, channel="sms", status=DeliveryStatus.SENT, **fields):
    return Delivery.objects.create(tenant_id=r.tenant_id, run=r, campaign_id=r.campaign_id, contact=person,
                                   channel=channel, status=status,
                                   address=fields.pop("address", person.phone if person else "+10000000000"),
                                   **fields)


def template(tenant, name="spring_sale", *, status="draft", body="Hi {{1}}, the sale starts {{2}}. See you!",
             **fields) -> MessageTemplate:
    if status == "rejected":
        fields.setdefault("rejection_reason", "Too promotional")
    return MessageTemplate.objects.create(tenant=tenant, name=name, language="en", body=body, status=status,
                                          **fields)
