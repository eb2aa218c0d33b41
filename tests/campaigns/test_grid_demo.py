"""The demo seed gives the grid, the campaign pages and the dashboard consistent data."""

from __future__ import annotations

import random

from django.db.models import Count, Q, Sum

from audiences import demo as audiences_demo
from campaigns import demo
from campaigns.models import (
    ACCEPTED_STATUSES,
    Campaign,
    CampaignStatus,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    RunChannelStats,
)
from channels import demo as channels_demo
from tenants.demo import DEMO_TENANTS


def _seed(tenant, users):
    spec = DEMO_TENANTS[0]
    for hook in (audiences_demo.seed, channels_demo.seed, demo.seed):
        hook(tenant=tenant, spec=spec, users=users, rng=random.Random("demo-test"))


def test_demo_campaigns_cover_every_state_with_consistent_counters(in_tenant_a, owner, marketer):
    users = {"admin": owner, "marketer": marketer}
    _seed(in_tenant_a, users)
    statuses = set(Campaign.objects.values_list("status", flat=True))
    assert {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED,
            CampaignStatus.COMPLETED, CampaignStatus.CANCELLED} <= statuses
    assert set(MessageTemplate.objects.values_list("status", flat=True)) >= {"approved", "submitted"}

    # Every run's counters equal what its deliveries say (the engine's reconcile semantics).
    for stats in RunChannelStats.objects.all():
        truth = Delivery.objects.filter(run_id=stats.run_id, channel=stats.channel).aggregate(
            targeted=Count("id"), skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
            sent=Count("id", filter=Q(status__in=ACCEPTED_STATUSES)),
            delivered=Count("id", filter=Q(delivered_at__isnull=False)),
            read=Count("id", filter=Q(read_at__isnull=False)),
            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            cancelled=Count("id", filter=Q(status=DeliveryStatus.CANCELLED)))
        assert {k: getattr(stats, k) for k in truth} == truth
        assert truth["targeted"] > 0
    # The daily figures add up to the same totals as the runs.
    fields = ("sent", "delivered", "read", "clicked", "replied", "failed", "cost")
    daily = DailyChannelStats.objects.aggregate(**{f: Sum(f) for f in fields})
    runs = RunChannelStats.objects.aggregate(**{f: Sum(f) for f in fields})
    assert daily == runs and daily["sent"] > 500
    assert DailyChannelStats.objects.values("day").distinct().count() >= 7  # spread over the last 30 days

    # Idempotent: a second run adds nothing.
    before = (Campaign.objects.count(), Delivery.objects.count(), MessageTemplate.objects.count())
    demo.seed(tenant=in_tenant_a, spec=DEMO_TENANTS[0], users=users, rng=random.Random("again"))
    assert (Campaign.objects.count(), Delivery.objects.count(), MessageTemplate.objects.count()) == before
