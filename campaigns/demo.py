"""Demo campaigns: one in every state over the demo audience, WhatsApp templates (approved, pending,
rejected), and for campaigns that sent, runs with deliveries whose counters (RunChannelStats) and
daily figures (DailyChannelStats) agree with them, spread over the last 30 days.

Idempotent: a tenant that already has the demo campaigns is left alone. Rows are written with
bulk_create; the funnel follows the counter semantics of campaigns.engine.counters (sent = accepted
and not failed since; delivered / read / clicked / replied = reached that stage).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from audiences.models import OPT_IN_REQUIRED, ConsentState, Contact, ContactList, Segment, Tag
from campaigns.models import (
    ACCEPTED_STATUSES,
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    CampaignType,
    ChannelBudget,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    Recurrence,
    RunChannelStats,
    RunStatus,
    SendMode,
    SkipReason,
    TemplateCategory,
    TemplateStatus,
)
from campaigns.selectors import campaign_contacts
from campaigns.starters import STARTERS
from channels.models import ChannelConfig

S = CampaignStatus
D = DeliveryStatus

TEMPLATES = (
    ("flash_sale_offer", TemplateCategory.MARKETING, TemplateStatus.APPROVED,
     "Hi {{1}}, our flash sale is on: {{2}} off everything with code {{3}}. Shop before midnight!",
     "Reply STOP to opt out", [{"type": "url", "text": "Shop the sale", "url": "https://example.com/sale"}], ""),
    ("order_update", TemplateCategory.UTILITY, TemplateStatus.APPROVED,
     "Hi {{1}}, your order {{2}} is confirmed. We'll message you when it ships.",
     "", [{"type": "quick_reply", "text": "Track order"}], ""),
    ("event_invitation", TemplateCategory.MARKETING, TemplateStatus.SUBMITTED,
     "Hi {{1}}, you're invited to {{2}} on {{3}}. Reply YES to reserve your seat.",
     "Reply STOP to opt out", [{"type": "quick_reply", "text": "YES"}], ""),
    ("appointment_reminder", TemplateCategory.UTILITY, TemplateStatus.REJECTED,
     "Hi {{1}}, a reminder of your appointment on {{2}} at {{3}}. Get 10% off your next visit!",
     "", [], "Promotional content is not allowed in a utility template."),
)


@dataclass
class DemoCampaign:
    name: str
    status: str
    channels: tuple[str, ...]
    starter: str
    audience: str  # "everyone", "segment:<name prefix>", "list:<name>", "tag:<name>"
    days_ago: float = 0  # when its run started (or, for scheduled, -days ahead)
    processed: float = 1.0  # share of deliveries handled when the run stopped (active/paused/cancelled)
    type: str = CampaignType.BROADCAST
    starred: bool = False
    budget: dict[str, str] = field(default_factory=dict)
    recurrence: str = Recurrence.NONE
    past_runs: tuple[float, ...] = ()  # days ago of earlier, completed occurrences (recurring campaigns)


DEMO_CAMPAIGNS = (
    DemoCampaign("Festive flash sale", S.COMPLETED, ("sms", "whatsapp", "email"), "flash-sale", "everyone",
                 days_ago=24, starred=True, budget={"sms": "120", "whatsapp": "300", "email": "20"}),
    DemoCampaign("Customer feedback survey", S.COMPLETED, ("email", "sms"), "survey-request", "segment:Active",
                 days_ago=17),
    DemoCampaign("Spring event invitation", S.COMPLETED, ("email", "telegram"), "event-invitation",
                 "list:Spring event attendees", days_ago=10),
    DemoCampaign("Clearance sale", S.CANCELLED, ("sms",), "flash-sale", "tag:newsletter", days_ago=6,
                 processed=0.35),
    DemoCampaign("Loyalty points reminder", S.PAUSED, ("email", "whatsapp"), "flash-sale", "tag:loyalty",
                 days_ago=2, processed=0.5),
    DemoCampaign("Weekend special offer", S.ACTIVE, ("sms", "email"), "flash-sale", "segment:VIP",
                 days_ago=0.05, processed=0.6, starred=True),
    DemoCampaign("Summer AC service reminder", S.SCHEDULED, ("sms", "voice"), "appointment-reminder", "everyone",
                 days_ago=-5),
    DemoCampaign("Weekly deals digest", S.SCHEDULED, ("email",), "product-launch", "tag:newsletter",
                 days_ago=-2, recurrence=Recurrence.WEEKLY, past_runs=(26, 19, 12, 5)),
    DemoCampaign("New product launch", S.DRAFT, ("email", "social", "push"), "product-launch", ""),
)

# Funnel per channel: (delivered | sent, read | delivered, clicked | read, replied | read)
FUNNEL = {
    "email": (0.96, 0.42, 0.18, 0.01), "sms": (0.94, 0.0, 0.0, 0.03), "whatsapp": (0.97, 0.78, 0.22, 0.12),
    "telegram": (0.99, 0.7, 0.15, 0.05), "voice": (0.8, 0.0, 0.0, 0.0), "push": (0.9, 0.3, 0.1, 0.0),
}
FAILURES = {
    "email": ("550", "Mailbox does not exist"), "sms": ("30003", "Unreachable destination handset"),
    "whatsapp": ("131026", "Message undeliverable: the number is not on WhatsApp"),
    "telegram": ("403", "Forbidden: bot was blocked by the user"), "voice": ("busy", "Line busy after retries"),
}


def seed(*, tenant, spec, users, rng) -> None:
    names = [c.name for c in DEMO_CAMPAIGNS]
    if Campaign.objects.filter(tenant=tenant, name__in=names).exists():
        return
    actor = users.get("marketer") or users.get("admin")
    templates = _seed_templates(tenant, rng)
    now = timezone.now()
    costs = dict(ChannelConfig.objects.filter(tenant=tenant, is_default=True).values_list("channel", "unit_cost"))
    daily: dict[tuple[dt.date, str], dict[str, int | Decimal]] = defaultdict(lambda: defaultdict(int))
    for item in DEMO_CAMPAIGNS:
        campaign = _campaign(tenant, item, actor, templates, now)
        for days_ago in item.past_runs:
            _run(tenant, campaign, now, rng, costs, daily, days_ago=days_ago, status=S.COMPLETED, processed=1.0)
        if item.status not in (S.DRAFT, S.SCHEDULED):
            _run(tenant, campaign, now, rng, costs, daily, days_ago=item.days_ago, status=item.status,
                 processed=item.processed)
    _write_daily(tenant, daily)
    _seed_auto_replies(tenant, now, users)


# A trained WhatsApp campaign's auto-replies, so the campaign page's AI replies and "Needs a human"
# queue are not empty: (what the contact wrote, outcome, answer or why it was handed over, handled?).
DEMO_AUTO_REPLIES = (
    ("Do you have the points balance for my account?", "trigger", "Hi {name}, your points are in the app "
     "under Profile › Loyalty. They never expire while you shop once a year.", False),
    ("Can I use points on sale items?", "ai", "Yes {name}, points work on sale items too, up to 50% of the bill.",
     False),
    ("I want to talk to a real person about a refund", "handover", "The contact asked for a person.", False),
    ("My points disappeared after the last order, why??", "handover", "The AI was not sure of the answer.", False),
    ("Can someone call me back?", "handover", "The contact asked for a person.", True),
    ("Where is the nearest store?", "ai", "Hi {name}, our nearest store is listed at acme.example/stores.", False),
)


def _seed_auto_replies(tenant, now, users) -> None:
    from campaigns.models import AiTrainingStatus, AutoReply, AutoReplySettings, ResponseTrigger

    campaign = Campaign.objects.filter(tenant=tenant, name="Loyalty points reminder").first()
    deliveries = list(Delivery.objects.filter(campaign=campaign, channel="whatsapp", contact__isnull=False,
                                              sent_at__isnull=False).select_related("contact")
                      .order_by("sent_at", "pk")[:len(DEMO_AUTO_REPLIES)]) if campaign else []
    if not deliveries:
        return
    Campaign.objects.filter(pk=campaign.pk).update(ai_training_status=AiTrainingStatus.TRAINED)
    trigger = ResponseTrigger.objects.create(
        tenant=tenant, campaign=campaign, keywords=["points balance", "balance"],
        response="Hi {{ first_name }}, your points are in the app under Profile › Loyalty. They never expire while "
                 "you shop once a year.")
    AutoReplySettings.objects.create(tenant=tenant, campaign=campaign,
                                     instruction="Answer questions about loyalty points politely and briefly.")
    rows = []
    for n, (delivery, (text, outcome, answer, handled)) in enumerate(zip(deliveries, DEMO_AUTO_REPLIES, strict=False)):
        received = now - dt.timedelta(hours=20 - 3 * n)
        handover = outcome == "handover"
        rows.append(AutoReply(
            tenant=tenant, campaign=campaign, delivery=delivery, inbound_text=text, inbound_event_id=f"demo-{n}",
            received_at=received, status="handover" if handover else "sent", source=outcome,
            trigger=trigger if outcome == "trigger" else None,
            reply_text="" if handover else answer.format(name=delivery.contact.first_name),
            note=answer if handover else "", finished_at=received + dt.timedelta(seconds=4),
            notified_at=received + dt.timedelta(seconds=5) if handover else None,
            handled_at=received + dt.timedelta(minutes=25) if handled else None,
            handled_by=users.get("marketer") if handled else None))
    AutoReply.objects.bulk_create(rows)


def _seed_templates(tenant, rng) -> dict[str, MessageTemplate]:
    out = {}
    for name, category, status, body, footer, buttons, reason in TEMPLATES:
        template, _ = MessageTemplate.objects.get_or_create(
            tenant=tenant, name=name, language="en",
            defaults={"category": category, "status": status, "body": body, "footer": footer, "buttons": buttons,
                      "rejection_reason": reason,
                      "submitted_at": timezone.now() - dt.timedelta(days=rng.randint(2, 40))
                      if status != TemplateStatus.DRAFT else None},
        )
        out[name] = template
    return out


def _campaign(tenant, item: DemoCampaign, actor, templates, now) -> Campaign:
    starter = STARTERS[item.starter]
    started = now - dt.timedelta(days=item.days_ago)
    campaign = Campaign.objects.create(
        tenant=tenant, name=item.name, description=starter.summary, type=item.type, purpose=starter.purpose,
        channels=list(item.channels), status=item.status, starred=item.starred, created_by=actor,
        audience_everyone=item.audience == "everyone", currency=tenant.currency,
        send_mode=SendMode.SCHEDULED if item.status != S.DRAFT else SendMode.NOW,
        scheduled_at=started if item.status != S.DRAFT else None,
        next_run_at=started if item.status == S.SCHEDULED else None,
        throttle_per_minute=600 if "sms" in item.channels else None,
        recurrence=item.recurrence,
        budget_total=sum((Decimal(v) for v in item.budget.values()), Decimal("0")) if item.budget else None,
    )
    # Back-date creation so the grid's "created" column and date filters have a spread.
    first_run = max((item.days_ago, *item.past_runs))
    created = now - dt.timedelta(days=max(first_run, 0) + 2, hours=3)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=created)
    kind, _, value = item.audience.partition(":")
    if kind == "segment":
        campaign.segments.set(Segment.objects.filter(tenant=tenant, name__startswith=value)[:1])
    elif kind == "list":
        campaign.lists.set(ContactList.objects.filter(tenant=tenant, name=value))
    elif kind == "tag":
        campaign.tags.set(Tag.objects.filter(tenant=tenant, name=value))
    contents = []
    for channel in item.channels:
        data = dict(starter.content.get(channel) or STARTERS["flash-sale"].content.get(channel) or {})
        if channel == "whatsapp":
            template = templates["flash_sale_offer"]
            data.update(mode="template", template_id=str(template.pk),
                        variables=list(STARTERS["flash-sale"].whatsapp_variables))
        if channel == "social" and not data:
            data = {"text": "Something new just landed: https://example.com/new"}
        contents.append(CampaignContent(tenant=tenant, campaign=campaign, channel=channel, data=data))
    CampaignContent.objects.bulk_create(contents)
    ChannelBudget.objects.bulk_create([
        ChannelBudget(tenant=tenant, campaign=campaign, channel=ch, allocated=Decimal(v))
        for ch, v in item.budget.items()
    ])
    return campaign


def _skip_reason(contact: Contact, channel: str) -> str:
    if not contact.address_for(channel):
        return SkipReason.NO_ADDRESS
    state = contact.consent(channel)
    if state == ConsentState.OPTED_OUT:
        return SkipReason.OPTED_OUT
    if channel in OPT_IN_REQUIRED and state != ConsentState.OPTED_IN:
        return SkipReason.NO_OPT_IN
    return ""


def _run(tenant, campaign: Campaign, now, rng, costs, daily, *, days_ago: float, status: str,
         processed: float) -> None:
    started = now - dt.timedelta(days=days_ago)
    final = status in (S.COMPLETED, S.CANCELLED)
    run_status = {S.COMPLETED: RunStatus.COMPLETED, S.CANCELLED: RunStatus.CANCELLED,
                  S.PAUSED: RunStatus.PAUSED, S.ACTIVE: RunStatus.SENDING}[status]
    run = CampaignRun.objects.create(
        tenant=tenant, campaign=campaign, occurrence_at=started, status=run_status,
        fanned_out_at=started + dt.timedelta(seconds=20),
    )
    contacts = list(campaign_contacts(campaign).order_by("pk"))
    deliveries: list[Delivery] = []
    stats: dict[str, dict[str, int | Decimal]] = {ch: defaultdict(int) for ch in campaign.channels}
    # Spread the sends over about an hour (the throttle); an active run is still going.
    span = dt.timedelta(minutes=55) if final or status == S.PAUSED else (now - started) * 0.95
    for channel in campaign.channels:
        unit = Decimal(costs.get(channel) or 0)
        funnel = FUNNEL[channel]
        seen: set[str] = set()
        for index, contact in enumerate(contacts):
            address = contact.address_for(channel)
            d = Delivery(tenant=tenant, run=run, campaign=campaign, contact=contact, channel=channel,
                         address=address)
            reason = _skip_reason(contact, channel)
            if not reason and address in seen:
                reason = SkipReason.DUPLICATE
            seen.add(address)
            position = index / max(len(contacts), 1)
            if reason:
                d.status, d.skip_reason = D.SKIPPED, reason
            elif position >= processed:
                d.status = D.CANCELLED if status == S.CANCELLED else D.PENDING
            else:
                _outcome(d, channel, funnel, started + span * position, rng, unit)
            deliveries.append(d)
            _count(stats[channel], d)
            if d.status not in (D.SKIPPED, D.PENDING, D.CANCELLED):
                _count_daily(tenant, daily, d)
    Delivery.objects.bulk_create(deliveries, batch_size=1000)
    RunChannelStats.objects.bulk_create([
        RunChannelStats(tenant=tenant, run=run, campaign=campaign, channel=ch,
                        **{k: v for k, v in counters.items()})
        for ch, counters in stats.items()
    ])
    CampaignRun.objects.filter(pk=run.pk).update(
        target_count=len(deliveries), finished_at=started + span + dt.timedelta(minutes=3) if final else None)
    for budget in ChannelBudget.objects.filter(campaign=campaign):
        ChannelBudget.objects.filter(pk=budget.pk).update(spent=stats[budget.channel].get("cost", Decimal("0")))


def _outcome(d: Delivery, channel: str, funnel, sent_at: dt.datetime, rng, unit: Decimal) -> None:
    """Walk one delivery down the funnel, with a timestamp per stage."""
    delivered, read, clicked, replied = funnel
    d.attempts = 1
    if rng.random() < 0.03:
        d.status, d.failed_at = D.FAILED, sent_at + dt.timedelta(seconds=rng.randint(2, 40))
        d.error_code, d.error_message = FAILURES.get(channel, ("error", "Provider error"))
        d.attempts = rng.choice((1, 2, 3))
        return
    d.status, d.sent_at, d.cost = D.SENT, sent_at, unit
    d.provider_message_id = f"demo-{rng.getrandbits(48):012x}"
    if channel == "voice":
        d.disposition = rng.choices(("answered", "machine", "no_answer", "busy"), (70, 15, 10, 5))[0]
    if rng.random() >= delivered:
        return
    d.status, d.delivered_at = D.DELIVERED, sent_at + dt.timedelta(seconds=rng.randint(1, 90))
    if rng.random() >= read:
        return
    d.status, d.read_at = D.READ, d.delivered_at + dt.timedelta(minutes=rng.randint(1, 600))
    if rng.random() < replied:
        d.status, d.replied_at, d.reply_text = D.REPLIED, d.read_at + dt.timedelta(minutes=rng.randint(1, 90)), \
            rng.choice(("Thanks!", "Is this valid in store too?", "YES", "Please call me"))
    elif rng.random() < clicked:
        d.status, d.clicked_at = D.CLICKED, d.read_at + dt.timedelta(seconds=rng.randint(5, 300))


def _count(counters, d: Delivery) -> None:
    counters["targeted"] += 1
    if d.status == D.SKIPPED:
        counters["skipped"] += 1
    elif d.status == D.FAILED:
        counters["failed"] += 1
    elif d.status == D.CANCELLED:
        counters["cancelled"] += 1
    if d.status in ACCEPTED_STATUSES:
        counters["sent"] += 1
        counters["cost"] += d.cost
    for stage in ("delivered", "read", "clicked", "replied"):
        if getattr(d, f"{stage}_at"):
            counters[stage] += 1


def _count_daily(tenant, daily, d: Delivery) -> None:
    """Each stage counts on the tenant-local day it happened, as the engine's counters do."""
    tz = tenant.tzinfo
    if d.status == D.FAILED:
        daily[(timezone.localdate(d.failed_at, tz), d.channel)]["failed"] += 1
        return
    day = timezone.localdate(d.sent_at, tz)
    daily[(day, d.channel)]["sent"] += 1
    daily[(day, d.channel)]["cost"] += d.cost
    for stage in ("delivered", "read", "clicked", "replied"):
        at = getattr(d, f"{stage}_at")
        if at:
            daily[(timezone.localdate(at, tz), d.channel)][stage] += 1


def _write_daily(tenant, daily) -> None:
    existing = {(row.day, row.channel): row for row in DailyChannelStats.objects.filter(
        tenant=tenant, day__in={day for day, _ in daily})}
    new, changed = [], []
    for (day, channel), counters in daily.items():
        row = existing.get((day, channel))
        if row is None:
            new.append(DailyChannelStats(tenant=tenant, day=day, channel=channel, **counters))
            continue
        for name, value in counters.items():
            setattr(row, name, getattr(row, name) + value)
        changed.append(row)
    DailyChannelStats.objects.bulk_create(new)
    if changed:
        DailyChannelStats.objects.bulk_update(changed, ["sent", "delivered", "read", "clicked", "replied", "failed",
                                                         "cost"])
