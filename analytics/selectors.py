"""Reads for the dashboard, campaign reports and the operations view.

The dashboard reads counters only (Campaign rows, RunChannelStats, DailyChannelStats,
ChannelBudget): its cost does not grow with the number of deliveries. A campaign report may group
one campaign's deliveries (index on campaign, channel, status); the operations view reads
deliveries only inside a bounded recent time range (partial indexes on sent_at / failed_at from
analytics migration 0002).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Avg, Count, F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from analytics.models import ClickEvent, Conversion
from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    CampaignType,
    ChannelBudget,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
    RunStatus,
)
from channels.models import ChannelConfig
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS, Tenant

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
FUNNEL = ("sent", "delivered", "read", "clicked", "replied")
FUNNEL_LABELS = {"sent": "Sent", "delivered": "Delivered", "read": "Read / opened", "clicked": "Clicked",
                 "replied": "Replied"}


def _pct(part, whole) -> float | None:
    return round(100.0 * float(part) / float(whole), 1) if whole else None


# --- dashboard ----------------------------------------------------------------------------------

@dataclass
class Dashboard:
    days: int
    active: int
    drafts: int
    completed: int
    reach: int
    budget_spent: Decimal
    budget_total: Decimal
    by_status: dict[str, int]
    charts: dict

    @property
    def budget_utilization(self) -> float | None:
        return _pct(self.budget_spent, self.budget_total)


def _latest_run_ids(campaigns):
    latest = (CampaignRun.objects.filter(campaign=OuterRef("pk"), is_test=False)
              .order_by("-occurrence_at").values("pk")[:1])
    return campaigns.annotate(latest_run=Subquery(latest)).values("latest_run")


def _budget(tenant: Tenant) -> tuple[Decimal, Decimal]:
    """(spent, total) over launched campaigns with a budget: the campaign's total budget, or the sum
    of its channel allocations when it has none."""
    launched = Campaign.objects.filter(tenant=tenant, archived_at__isnull=True).exclude(status=CampaignStatus.DRAFT)
    per_campaign = {row["campaign"]: row for row in ChannelBudget.objects.filter(campaign__in=launched)
                    .values("campaign").annotate(allocated=Sum("allocated"), spent=Sum("spent"))}
    with_total = dict(launched.filter(budget_total__gt=0).values_list("pk", "budget_total"))
    # Without per-channel allocations, what a campaign's sends cost is what it spent.
    cost_only = dict(RunChannelStats.objects.filter(campaign_id__in=[pk for pk in with_total if pk not in per_campaign])
                     .values("campaign").annotate(c=Sum("cost")).values_list("campaign", "c"))
    spent = total = Decimal("0")
    for pk in {*with_total, *per_campaign}:
        row = per_campaign.get(pk)
        cap = with_total.get(pk) or (row["allocated"] if row else Decimal("0"))
        if not cap:
            continue
        used = (row["spent"] if row else cost_only.get(pk)) or Decimal("0")
        total += cap
        spent += min(used, cap)
    return spent, total


def dashboard_data(*, tenant: Tenant, days: int = DEFAULT_RANGE, today: dt.date | None = None) -> Dashboard:
    days = days if days in RANGES else DEFAULT_RANGE
    campaigns = Campaign.objects.filter(tenant=tenant, archived_at__isnull=True)
    by_status = dict(campaigns.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    active = Campaign.objects.filter(tenant=tenant, status=CampaignStatus.ACTIVE)
    reach = RunChannelStats.objects.filter(run_id__in=_latest_run_ids(active)).aggregate(
        n=Sum(F("targeted") - F("skipped")))["n"] or 0
    spent, total = _budget(tenant)

    by_channel: dict[str, int] = defaultdict(int)
    for channels in campaigns.values_list("channels", flat=True):
        for ch in channels or ():
            by_channel[ch] += 1

    today = today or timezone.localdate(timezone.now(), tenant.tzinfo)
    start = today - dt.timedelta(days=days - 1)
    daily = DailyChannelStats.objects.filter(tenant=tenant, day__gte=start, day__lte=today)
    labels = [start + dt.timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    per_day: dict[str, list[int]] = {}
    for day, channel, sent in daily.values_list("day", "channel", "sent"):
        per_day.setdefault(channel, [0] * days)[index[day]] += sent
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tenant.tzinfo)  # the tenant's midnight, not UTC's
    funnel = RunChannelStats.objects.filter(tenant=tenant, run__occurrence_at__gte=since).aggregate(
        **{name: Sum(name) for name in FUNNEL})

    statuses = [s for s in CampaignStatus if by_status.get(s.value)]
    charts = {
        "status": {"labels": [s.label for s in statuses], "keys": [s.value for s in statuses],
                   "values": [by_status[s.value] for s in statuses]},
        "channel": {"labels": [CHANNEL_LABELS[c] for c in CHANNEL_KEYS if by_channel.get(c)],
                    "keys": [c for c in CHANNEL_KEYS if by_channel.get(c)],
                    "values": [by_channel[c] for c in CHANNEL_KEYS if by_channel.get(c)]},
        "daily": {"days": days, "labels": [d.isoformat() for d in labels],
                  "series": [{"key": c, "label": CHANNEL_LABELS[c], "values": per_day[c]}
                             for c in CHANNEL_KEYS if c in per_day]},
        "funnel": {"labels": [FUNNEL_LABELS[k] for k in FUNNEL], "values": [funnel[k] or 0 for k in FUNNEL]},
    }
    return Dashboard(days=days, active=by_status.get(CampaignStatus.ACTIVE, 0),
                     drafts=by_status.get(CampaignStatus.DRAFT, 0),
                     completed=by_status.get(CampaignStatus.COMPLETED, 0), reach=reach, budget_spent=spent,
                     budget_total=total, by_status=by_status, charts=charts)


def recent_campaigns(*, tenant: Tenant, limit: int = 8) -> list[Campaign]:
    return list(Campaign.objects.filter(tenant=tenant, archived_at__isnull=True)
                .exclude(status=CampaignStatus.DRAFT).order_by("-updated_at")[:limit])


# --- campaign report ----------------------------------------------------------------------------

@dataclass
class ReportRow:
    channel: str
    label: str
    targeted: int = 0
    skipped: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    read: int = 0
    clicked: int = 0
    clicks_total: int = 0
    replied: int = 0
    converted: int = 0
    unsubscribed: int = 0
    revenue: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")

    def add(self, other: ReportRow) -> None:
        for name in ("targeted", "skipped", "sent", "delivered", "failed", "read", "clicked", "clicks_total",
                     "replied", "converted", "unsubscribed", "revenue", "cost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def delivery_rate(self) -> float | None:
        return _pct(self.delivered, self.sent)

    @property
    def open_rate(self) -> float | None:
        return _pct(self.read, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return _pct(self.clicked, self.delivered)

    @property
    def response_rate(self) -> float | None:
        return _pct(self.replied, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return _pct(self.converted, self.delivered)

    @property
    def unsubscribe_rate(self) -> float | None:
        return _pct(self.unsubscribed, self.delivered)

    @property
    def roi(self) -> float | None:
        """(revenue - cost) / cost, in percent; None while nothing was spent."""
        return _pct(self.revenue - self.cost, self.cost) if self.cost else None


METRICS = (
    # (attribute, label, rate attribute, rate label)
    ("sent", "Sent", None, None),
    ("delivered", "Delivered", "delivery_rate", "Delivery rate"),
    ("failed", "Failed", None, None),
    ("read", "Read / opened", "open_rate", "Open rate"),
    ("clicked", "Clicked", "click_rate", "Click-through rate"),
    ("replied", "Replied", "response_rate", "Response rate"),
    ("converted", "Converted", "conversion_rate", "Conversion rate"),
    ("unsubscribed", "Unsubscribed", "unsubscribe_rate", "Unsubscribe rate"),
)


def report_rows(*, campaign: Campaign) -> tuple[list[ReportRow], ReportRow]:
    """Per channel (every run summed) and the total."""
    rows = {ch: ReportRow(channel=ch, label=CHANNEL_LABELS.get(ch, ch)) for ch in campaign.channels}
    counters = ("targeted", "skipped", "sent", "delivered", "failed", "read", "clicked", "replied")
    for stats in (RunChannelStats.objects.filter(campaign=campaign).values("channel")
                  .annotate(**{n: Sum(n) for n in counters}, cost_sum=Sum("cost"))):
        row = rows.setdefault(stats["channel"], ReportRow(channel=stats["channel"],
                                                          label=CHANNEL_LABELS.get(stats["channel"], "")))
        for name in counters:
            setattr(row, name, stats[name] or 0)
        row.cost = stats["cost_sum"] or Decimal("0")
    for item in (Conversion.objects.filter(campaign=campaign).values("channel")
                 .annotate(n=Count("delivery", distinct=True), revenue_sum=Sum("revenue"))):
        if item["channel"] in rows:
            rows[item["channel"]].converted = item["n"]
            rows[item["channel"]].revenue = item["revenue_sum"] or Decimal("0")
    for item in ClickEvent.objects.filter(campaign=campaign).values("channel").annotate(n=Count("pk")):
        if item["channel"] in rows:
            rows[item["channel"]].clicks_total = item["n"]
    unsubscribes = _unsubscribes(campaign)
    for channel, n in unsubscribes.items():
        if channel in rows:
            rows[channel].unsubscribed = n
    total = ReportRow(channel="", label="Total")
    for row in rows.values():
        total.add(row)
    # One person leaving through "unsubscribe from everything" is one unsubscribe in the total.
    total.unsubscribed = unsubscribes.get("", 0)
    return list(rows.values()), total


def _unsubscribes(campaign: Campaign) -> dict[str, int]:
    """Contacts who opted out (link, one-click or STOP) within the attribution window after this
    campaign reached them, per channel that reached them and in total (key "")."""
    from analytics.services import attribution_window
    from audiences.models import ConsentEvent, ConsentSource, ConsentState

    events = ConsentEvent.objects.filter(
        tenant_id=campaign.tenant_id, state=ConsentState.OPTED_OUT,
        source__in=(ConsentSource.UNSUBSCRIBE, ConsentSource.KEYWORD),
        contact__deliveries__campaign=campaign, contact__deliveries__is_test=False,
        contact__deliveries__sent_at__lte=F("created_at"),
        contact__deliveries__sent_at__gte=F("created_at") - attribution_window())
    result = dict(events.values("contact__deliveries__channel").annotate(n=Count("contact", distinct=True))
                  .values_list("contact__deliveries__channel", "n"))
    result[""] = events.aggregate(n=Count("contact", distinct=True))["n"]
    return result


@dataclass
class StatusLine:
    status: str
    label: str
    count: int
    percent: float | None


def status_table(*, campaign: Campaign) -> list[StatusLine]:
    counts = dict(Delivery.objects.filter(campaign=campaign, is_test=False).values("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    total = sum(counts.values())
    return [StatusLine(s.value, s.label, counts[s.value], _pct(counts[s.value], total))
            for s in DeliveryStatus if counts.get(s.value)]


# Provider error codes by what a marketer can do about them. Codes are the providers' own
# (Twilio numeric, Meta WhatsApp numeric, Telegram HTTP status) or our adapters' names.
FAILURE_CATEGORIES = {
    "invalid": "Invalid number or address",
    "blocked": "Blocked or unsubscribed contact",
    "network": "Network or provider error",
    "platform": "Platform restriction",
    "other": "Other provider codes",
}
FAILURE_CODES = {
    "invalid": {"21211", "21214", "21217", "21401", "21407", "21614", "30005", "30006", "131026", "1013",
                "invalid_recipient", "invalid_number", "invalid_address", "bounce", "bounced", "invalid", "400"},
    "blocked": {"21610", "30004", "131050", "403", "blocked", "spamreport", "unsubscribe", "dropped",
                "suppressed"},
    "network": {"timeout", "network", "internal", "no_result", "30001", "30003", "30008", "500", "502", "503",
                "504", "131000", "429"},
    "platform": {"30007", "30034", "21408", "21606", "63016", "63018", "131047", "131048", "131049", "131056",
                 "130429", "368", "outside_session_window", "text_too_long", "media_required",
                 "unsupported_media", "scopes", "render"},
}


def failure_category(code: str) -> str:
    code = (code or "").strip().lower()
    for category, codes in FAILURE_CODES.items():
        if code in codes:
            return category
    return "other"


@dataclass
class FailureGroup:
    key: str
    label: str
    count: int = 0
    codes: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def failure_groups(*, campaign: Campaign, examples: int = 3) -> list[FailureGroup]:
    groups = {k: FailureGroup(k, label) for k, label in FAILURE_CATEGORIES.items()}
    rows = (Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.FAILED, is_test=False)
            .values("error_code").annotate(n=Count("pk"), example=Max("error_message")).order_by("-n"))
    for row in rows:
        group = groups[failure_category(row["error_code"])]
        group.count += row["n"]
        if row["error_code"]:
            group.codes.append(row["error_code"])
        if row["example"] and len(group.examples) < examples and row["example"] not in group.examples:
            group.examples.append(row["example"])
    return [g for g in groups.values() if g.count]


def average_response_time(*, campaign: Campaign) -> dt.timedelta | None:
    # A reply dated before the send is a provider clock skew, not a negative response time.
    return Delivery.objects.filter(campaign=campaign, replied_at__isnull=False, sent_at__isnull=False,
                                   replied_at__gte=F("sent_at"), is_test=False).aggregate(avg=Avg(F("replied_at") - F("sent_at")))["avg"]


def step_rows(*, campaign: Campaign) -> list[dict]:
    """Per workflow step (drip campaigns): counted from the deliveries, grouped by step."""
    if campaign.type != CampaignType.DRIP:
        return []
    rows = (Delivery.objects.filter(campaign=campaign, is_test=False).values("step").order_by("step").annotate(
        sent=Count("pk", filter=Q(sent_at__isnull=False)), delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        read=Count("pk", filter=Q(read_at__isnull=False)), clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        replied=Count("pk", filter=Q(replied_at__isnull=False)),
        failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED))))
    return list(rows)


def events_over_time(*, campaign: Campaign, tenant: Tenant) -> dict:
    """Sent / delivered / read / clicked / replied per hour (a campaign's first three days) or per day."""
    bounds = RunChannelStats.objects.filter(campaign=campaign).aggregate(n=Sum("sent"))
    runs = campaign.runs.filter(is_test=False)
    start = runs.order_by("occurrence_at").values_list("occurrence_at", flat=True).first()
    if start is None or not bounds["n"]:
        return {"bucket": "hour", "labels": [], "series": []}
    span = timezone.now() - start
    hourly = span <= dt.timedelta(days=3)
    trunc = TruncHour if hourly else TruncDay
    buckets: dict[str, dict] = {}
    for stage in FUNNEL:
        column = f"{stage}_at"
        rows = (Delivery.objects.filter(campaign=campaign, is_test=False, **{f"{column}__isnull": False})
                .annotate(bucket=trunc(column, tzinfo=tenant.tzinfo)).values("bucket").annotate(n=Count("pk")))
        for row in rows:
            buckets.setdefault(row["bucket"], {})[stage] = row["n"]
    keys = sorted(buckets)
    fmt = "%b %d %H:00" if hourly else "%b %d"
    return {"bucket": "hour" if hourly else "day", "labels": [k.strftime(fmt) for k in keys],
            "series": [{"key": s, "label": FUNNEL_LABELS[s], "values": [buckets[k].get(s, 0) for k in keys]}
                       for s in FUNNEL]}


# --- operations ---------------------------------------------------------------------------------

@dataclass
class QueueDepth:
    transport: str
    queue: str
    depth: int | None
    error: str = ""


def queue_depth() -> QueueDepth:
    """Messages waiting in Celery's default queue: a Redis list, or files for the filesystem transport."""
    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
            return QueueDepth("redis", queue, int(client.llen(queue)))
        except redis.RedisError as exc:
            return QueueDepth("redis", queue, None, f"Broker unreachable: {exc}")
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
    try:
        return QueueDepth("filesystem", queue, sum(1 for p in folder.iterdir() if p.suffix == ".msg"))
    except OSError as exc:
        return QueueDepth("filesystem", queue, None, f"Queue folder unreadable: {exc}")


@dataclass
class ChannelRate:
    channel: str
    label: str
    sent: int
    per_minute: float


def _tenant_ids(tenant: Tenant | None) -> list[int]:
    """One tenant, or every active one for the deployment-wide view. Filtering on tenant_id = ANY(...)
    keeps the (tenant_id, sent_at) index usable where an unfiltered tenant_id would not."""
    if tenant is not None:
        return [tenant.pk]
    return list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))


def send_rates(*, tenant: Tenant | None, minutes: int = 15, now: dt.datetime | None = None) -> list[ChannelRate]:
    """None: the whole deployment (callers outside a tenant disable scoping)."""
    now = now or timezone.now()
    rows = Delivery.objects.filter(tenant_id__in=_tenant_ids(tenant), sent_at__gte=now - dt.timedelta(minutes=minutes),
                                   sent_at__lte=now)
    counts = dict(rows.values("channel").annotate(n=Count("pk")).values_list("channel", "n"))
    return [ChannelRate(c, CHANNEL_LABELS[c], counts[c], round(counts[c] / minutes, 1))
            for c in CHANNEL_KEYS if counts.get(c)]


@dataclass
class ProviderErrors:
    provider: str
    label: str
    attempted: int
    failed: int

    @property
    def rate(self) -> float | None:
        return _pct(self.failed, self.attempted)


def provider_error_rates(*, tenant: Tenant | None, now: dt.datetime | None = None) -> list[ProviderErrors]:
    """Failed / attempted over the last hour per provider. Attempted = accepted in the hour plus
    failed in the hour and not already counted as accepted in it (a bounce of a message accepted
    within the hour is one attempt, not two)."""
    now = now or timezone.now()
    since = now - dt.timedelta(hours=1)
    deliveries = Delivery.objects.filter(tenant_id__in=_tenant_ids(tenant))
    sent = dict(deliveries.filter(sent_at__gte=since).values("channel_config").annotate(n=Count("pk"))
                .values_list("channel_config", "n"))
    failed = {row["channel_config"]: row for row in deliveries.filter(failed_at__gte=since)
              .values("channel_config").annotate(n=Count("pk"), not_counted=Count("pk", filter=Q(sent_at__isnull=True) | Q(sent_at__lt=since)))}
    configs = ChannelConfig.objects.all() if tenant is None else ChannelConfig.objects.filter(tenant=tenant)
    provider_of = {c.pk: (c.provider, c.provider_label) for c in configs.filter(pk__in={*sent, *failed})}
    result: dict[str, ProviderErrors] = {}
    for config_id in {*sent, *failed}:
        provider, label = provider_of.get(config_id, ("unknown", "No configuration recorded"))
        item = result.setdefault(provider, ProviderErrors(provider, label, 0, 0))
        f = failed.get(config_id, {"n": 0, "not_counted": 0})
        item.attempted += sent.get(config_id, 0) + f["not_counted"]
        item.failed += f["n"]
    return sorted(result.values(), key=lambda p: p.label)


@dataclass
class StuckRun:
    run: CampaignRun
    waiting: int  # due pending deliveries (capped: counting stops at STUCK_COUNT_CAP)


STUCK_AFTER = dt.timedelta(minutes=10)
STUCK_COUNT_CAP = 1000


def stuck_runs(*, tenant: Tenant | None, now: dt.datetime | None = None) -> list[StuckRun]:
    """Sending runs with due pending deliveries and nothing claimed, sent or failed for 10 minutes."""
    now = now or timezone.now()
    since = now - STUCK_AFTER
    # A run fanned out a minute ago whose first batch has not started yet is not stuck.
    runs = (CampaignRun.objects.filter(status=RunStatus.SENDING, fanned_out_at__lte=since)
            .select_related("campaign", "tenant"))
    if tenant is not None:
        runs = runs.filter(tenant=tenant)
    stuck = []
    for run in runs:
        of_run = Delivery.objects.filter(tenant_id=run.tenant_id, run=run)
        due = of_run.filter(status=DeliveryStatus.PENDING).filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        waiting = due[:STUCK_COUNT_CAP].count()
        if not waiting:
            continue
        active = (of_run.filter(status=DeliveryStatus.SENDING, claimed_at__gte=since).exists()
                  or of_run.filter(sent_at__gte=since).exists() or of_run.filter(failed_at__gte=since).exists())
        if not active:
            stuck.append(StuckRun(run, waiting))
    return stuck


def provider_health(*, tenant: Tenant | None) -> list[ChannelConfig]:
    configs = ChannelConfig.objects.filter(tenant_id__in=_tenant_ids(tenant)).select_related("tenant")
    return list(configs.order_by("tenant__name", "channel", "name"))
