"""Counters the read side uses instead of COUNT(*) over deliveries.

Every function here runs inside the caller's transaction, next to the status change it counts.
Semantics (what `reconcile` recomputes): targeted = deliveries of the run; skipped / failed /
cancelled = deliveries in that status now; sent = deliveries accepted by the provider and not
failed since; delivered / read / clicked / replied = deliveries that reached that stage.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from campaigns.models import (
    ACCEPTED_STATUSES,
    CampaignRun,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
)

DAILY_FIELDS = ("sent", "delivered", "read", "clicked", "replied", "failed")


def stats_bump_many(*, run: CampaignRun, deltas: dict[str, dict[str, int | Decimal]]) -> None:
    """Add deltas ({channel: {counter: n, "cost": Decimal}}) to the run's counters and today's daily row."""
    if run.is_test:
        return  # test sends stay out of every statistic
    for channel, changes in deltas.items():
        changes = {k: v for k, v in changes.items() if v}
        if not changes:
            continue
        RunChannelStats.objects.filter(run=run, channel=channel).update(
            **{name: F(name) + value for name, value in changes.items()})
        # A day's figures record what happened that day: a retry or a later bounce lowers the
        # run's current-state counters, never an earlier day's (which could go below zero).
        daily = {k: v for k, v in changes.items() if (k in DAILY_FIELDS or k == "cost") and v > 0}
        if daily:
            _daily_bump(run=run, channel=channel, changes=daily)


def _daily_bump(*, run: CampaignRun, channel: str, changes: dict) -> None:
    tenant_id = run.tenant_id
    day = timezone.localdate(timezone.now(), run.tenant.tzinfo)  # the tenant's own calendar day
    updated = DailyChannelStats.objects.filter(tenant_id=tenant_id, day=day, channel=channel).update(
        **{name: F(name) + value for name, value in changes.items()})
    if not updated:
        DailyChannelStats.objects.bulk_create(
            [DailyChannelStats(tenant_id=tenant_id, day=day, channel=channel)], ignore_conflicts=True)
        DailyChannelStats.objects.filter(tenant_id=tenant_id, day=day, channel=channel).update(
            **{name: F(name) + value for name, value in changes.items()})


def stats_from_deliveries(run: CampaignRun) -> dict[str, dict[str, int | Decimal]]:
    """The counters recomputed from the deliveries themselves (slow; for reconcile and tests)."""
    rows = Delivery.objects.filter(run=run).values("channel").annotate(
        targeted=Count("id"),
        skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
        sent=Count("id", filter=Q(status__in=ACCEPTED_STATUSES)),
        delivered=Count("id", filter=Q(delivered_at__isnull=False)),
        read=Count("id", filter=Q(read_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        replied=Count("id", filter=Q(replied_at__isnull=False)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
        cancelled=Count("id", filter=Q(status=DeliveryStatus.CANCELLED)),
        cost=Sum("cost"),
    )
    return {row.pop("channel"): {**row, "cost": row["cost"] or Decimal("0")} for row in rows}


def reconcile(run: CampaignRun, *, fix: bool = False) -> dict[str, dict[str, tuple]]:
    """Compare stored counters with the deliveries; return {channel: {counter: (stored, actual)}} drift."""
    actual = stats_from_deliveries(run)
    drift: dict[str, dict[str, tuple]] = {}
    for stats in RunChannelStats.objects.filter(run=run):
        truth = actual.get(stats.channel, {})
        for name in (*RunChannelStats.COUNTERS, "cost"):
            stored, real = getattr(stats, name), truth.get(name, 0)
            if stored != real:
                drift.setdefault(stats.channel, {})[name] = (stored, real)
                if fix:
                    setattr(stats, name, real)
        if fix and stats.channel in drift:
            stats.save()
    return drift
