"""Reads for the campaign grid and the campaign page: filtered, sorted campaigns with their progress
from the counters, skip reasons, and the members (deliveries) grid with keyset pagination."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from campaigns.ai_replies.selectors import open_handovers_subquery
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
    SkipReason,
)
from campaigns.selectors import campaign_telegram_targets
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS

S = CampaignStatus

SORTS: dict[str, tuple[str, tuple]] = {
    "recent": ("Most recent", ("-created_at",)),
    "oldest": ("Oldest first", ("created_at",)),
    "name": ("Name (A-Z)", ("name",)),
    "-name": ("Name (Z-A)", ("-name",)),
    "schedule": ("Schedule date", ("scheduled_at",)),
    "status": ("Status", ("status_rank", "-created_at")),
}
# Lifecycle order, so "sort by status" reads as a pipeline (what is live comes first).
STATUS_ORDER = (S.ACTIVE, S.PAUSED, S.SCHEDULED, S.DRAFT, S.COMPLETED, S.FAILED, S.CANCELLED)
ARCHIVED = "archived"


@dataclass
class GridFilters:
    q: str = ""
    type: str = ""
    channel: str = ""
    status: str = ""  # a CampaignStatus, "archived", or "" (every live campaign)
    date_field: str = "created"  # "created" or "scheduled"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "recent"

    @classmethod
    def from_query(cls, params) -> GridFilters:
        def date(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat(params.get(name, ""))
            except ValueError:
                return None  # a half-typed date is ignored rather than answered with an error page

        sort = params.get("sort", "recent")
        status = params.get("status", "")
        return cls(
            q=params.get("q", "").strip()[:100],
            type=params.get("type", "") if params.get("type") in dict(Campaign._meta.get_field("type").choices) else "",
            channel=params.get("channel", "") if params.get("channel") in CHANNEL_KEYS else "",
            status=status if status in S.values or status == ARCHIVED else "",
            date_field="scheduled" if params.get("date_field") == "scheduled" else "created",
            date_from=date("from"), date_to=date("to"),
            sort=sort if sort in SORTS else "recent",
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.type or self.channel or self.status or self.date_from or self.date_to)


def _counter_sum(name: str):
    """Sum of one counter over every run of the campaign, as a correlated subquery (no join fan-out)."""
    return Coalesce(
        Subquery(
            RunChannelStats.objects.filter(campaign=OuterRef("pk"))
            .order_by().values("campaign").annotate(total=Sum(name)).values("total")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _with_progress(qs: QuerySet[Campaign]) -> QuerySet[Campaign]:
    return qs.annotate(
        progress_sent=_counter_sum("sent"),
        progress_targeted=_counter_sum("targeted"),
        progress_skipped=_counter_sum("skipped"),
        open_handovers=open_handovers_subquery(),
        status_rank=Case(*[When(status=s, then=Value(i)) for i, s in enumerate(STATUS_ORDER)],
                         default=Value(99), output_field=IntegerField()),
    )


def campaigns_selected(*, tenant, ids: list[str]) -> QuerySet[Campaign]:
    """The tenant's campaigns among `ids` (live or archived), annotated like the grid."""
    return _with_progress(Campaign.objects.filter(tenant=tenant, pk__in=ids)).order_by("-starred", "-created_at")


def campaign_grid(*, tenant, filters: GridFilters) -> QuerySet[Campaign]:
    qs = Campaign.objects.filter(tenant=tenant)
    qs = qs.filter(archived_at__isnull=False) if filters.status == ARCHIVED else qs.filter(archived_at__isnull=True)
    if filters.status and filters.status != ARCHIVED:
        qs = qs.filter(status=filters.status)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.channel:
        qs = qs.filter(channels__contains=[filters.channel])
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    if filters.date_from or filters.date_to:
        field = "scheduled_at" if filters.date_field == "scheduled" else "created_at"
        tz = tenant.tzinfo
        if filters.date_from:
            qs = qs.filter(**{f"{field}__gte": dt.datetime.combine(filters.date_from, dt.time.min, tz)})
        if filters.date_to:
            qs = qs.filter(**{f"{field}__lt": dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, tz)})
    qs = _with_progress(qs)
    order = SORTS[filters.sort][1]
    if filters.sort == "schedule":
        # Unscheduled drafts go last rather than first.
        order = (F("scheduled_at").asc(nulls_last=True), "-created_at")
    return qs.order_by("-starred", *order)


def with_grid_relations(campaigns: list[Campaign] | QuerySet[Campaign]):
    """Prefetch what the grid's audience and channel-config columns show (a few queries per page)."""
    return campaigns.prefetch_related(
        "segments", "lists", "tags",
        Prefetch("contents", queryset=CampaignContent.objects.select_related("channel_config")),
    )


def audience_summary(campaign: Campaign) -> str:
    telegram = ""
    if "telegram" in campaign.channels:
        # Reads the prefetched contents (with_grid_relations): no query per row.
        targets = campaign_telegram_targets(campaign)
        chats = len(targets.chat_ids)
        bits = (["all Telegram subscribers"] if targets.subscribers == "all" else []) + (
            [f"{chats} Telegram group{'s' if chats != 1 else ''}/channel{'s' if chats != 1 else ''}"] if chats else [])
        telegram = " + ".join(bits)
    if campaign.audience_everyone:
        contacts = "All contacts"
    else:
        parts = [f"Segment: {s.name}" for s in campaign.segments.all()]
        parts += [f"List: {c.name}" for c in campaign.lists.all()]
        parts += [f"Tag: {t.name}" for t in campaign.tags.all()]
        contacts = ", ".join(parts)
    if telegram and contacts:
        return f"{contacts}; {telegram}"
    return contacts or (telegram[:1].upper() + telegram[1:]) or "No audience yet"


def channel_config_summary(campaign: Campaign) -> list[tuple[str, str]]:
    """(channel label, config name) per channel; "Default" when the tenant default will be used."""
    by_channel = {c.channel: c for c in campaign.contents.all()}
    out = []
    for channel, label in zip(campaign.channels, campaign.channel_labels, strict=False):
        content = by_channel.get(channel)
        config = content.channel_config if content is not None else None
        out.append((label, config.name if config is not None else "Default"))
    return out


PREVIEW_FIELDS = {"email": "subject", "push": "title", "sms": "text", "telegram": "text", "voice": "script",
                  "social": "text"}


def content_previews(campaign: Campaign) -> list[tuple[str, str, str]]:
    """(channel, label, one line of its content) for the campaign page's summary."""
    from campaigns.models import MessageTemplate

    by_channel = {c.channel: c.data for c in campaign.contents.all()}
    out = []
    for channel, label in zip(campaign.channels, campaign.channel_labels, strict=False):
        data = by_channel.get(channel) or {}
        if channel == "whatsapp":
            if data.get("mode") == "session":
                text = data.get("session_text", "")
            else:
                template = MessageTemplate.objects.filter(tenant_id=campaign.tenant_id,
                                                          pk=data.get("template_id") or None).first()
                text = f"Template {template.name} ({template.get_status_display().lower()})" if template else ""
        else:
            text = str(data.get(PREVIEW_FIELDS[channel], ""))
        out.append((channel, label, text))
    return out


@dataclass
class ChannelSkips:
    channel: str
    label: str
    reasons: list[tuple[str, int]]  # (reason label, count), most frequent first


def skip_reasons(*, campaign: Campaign, run: CampaignRun | None) -> list[ChannelSkips]:
    """Why recipients were skipped, per channel. A GROUP BY served by the (campaign, channel,
    status) index; skipped rows are a small share of a run."""
    if run is None:
        return []
    labels = dict(SkipReason.choices)
    rows = (Delivery.objects.filter(campaign=campaign, run=run, status=DeliveryStatus.SKIPPED)
            .values("channel", "skip_reason").annotate(n=Count("id")).order_by("channel", "-n"))
    out: dict[str, ChannelSkips] = {}
    for row in rows:
        channel = row["channel"]
        item = out.setdefault(channel, ChannelSkips(channel, CHANNEL_LABELS.get(channel, channel), []))
        item.reasons.append((labels.get(row["skip_reason"], row["skip_reason"] or "Other"), row["n"]))
    return list(out.values())


@dataclass
class MemberFilters:
    status: str = ""
    channel: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params) -> MemberFilters:
        status = params.get("status", "")
        channel = params.get("channel", "")
        return cls(status=status if status in DeliveryStatus.values else "",
                   channel=channel if channel in CHANNEL_KEYS else "", q=params.get("q", "").strip()[:100])


def members_queryset(*, campaign: Campaign, filters: MemberFilters) -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(campaign=campaign, is_test=False).select_related("contact")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.q:
        q = filters.q
        qs = qs.filter(Q(address__icontains=q) | Q(contact__first_name__icontains=q)
                       | Q(contact__last_name__icontains=q) | Q(contact__email__icontains=q)
                       | Q(contact__phone__icontains=q))
    return qs.order_by("id")


def members_page(*, campaign: Campaign, filters: MemberFilters, after: int | None,
                 size: int = 50) -> tuple[list[Delivery], int | None]:
    """One keyset page (id > after) and the cursor of the next page (None at the end)."""
    qs = members_queryset(campaign=campaign, filters=filters)
    if after:
        qs = qs.filter(id__gt=after)
    rows = list(qs[: size + 1])
    if len(rows) > size:
        return rows[:size], rows[size - 1].id
    return rows, None


MEMBER_CSV_HEADER = ("Contact", "Phone", "Email", "Channel", "Address", "Status", "Skip reason", "Attempts",
                     "Sent at", "Delivered at", "Read at", "Disposition", "Error code", "Error")


def members_csv_rows(*, campaign: Campaign, filters: MemberFilters, chunk: int = 2000) -> Iterator[list]:
    """Every matching delivery, fetched in keyset chunks so memory stays flat on big campaigns."""
    after = 0
    while True:
        rows = list(members_queryset(campaign=campaign, filters=filters).filter(id__gt=after)[:chunk])
        if not rows:
            return
        for d in rows:
            contact = d.contact
            yield [
                contact.full_name if contact else "", contact.phone if contact else "",
                contact.email if contact else "", d.get_channel_display(), d.address, d.get_status_display(),
                d.get_skip_reason_display() if d.skip_reason else "", d.attempts,
                d.sent_at.isoformat() if d.sent_at else "", d.delivered_at.isoformat() if d.delivered_at else "",
                d.read_at.isoformat() if d.read_at else "", d.disposition, d.error_code, d.error_message,
            ]
        after = rows[-1].id
