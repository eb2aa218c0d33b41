"""Lifecycle services as a marketer uses them: clone, delete vs archive, pause/resume, cancel, retry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from audiences.models import ContactList, Segment, Tag
from campaigns import services
from campaigns.lifecycle import IllegalTransition
from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    ChannelBudget,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
    RunStatus,
)
from tests.campaigns.factories_grid import campaign, contact, delivery, run

S = CampaignStatus


def _rich_campaign(tenant, status=S.COMPLETED) -> Campaign:
    c = campaign(tenant, "Diwali sale", status=status, channels=("sms", "email"), description="Festive offer",
                 purpose="promotional", type="broadcast", throttle_per_minute=300, batch_delay_seconds=5,
                 calling_hours_start=dt.time(9), calling_hours_end=dt.time(20), recurrence="weekly",
                 budget_total=Decimal("500"), currency="INR", track_links=False, notes="Use the red banner")
    c.segments.set([Segment.objects.create(tenant=tenant, name="VIP", rules={"match": "all", "rules": []})])
    c.lists.set([ContactList.objects.create(tenant=tenant, name="Testers")])
    c.tags.set([Tag.objects.create(tenant=tenant, name="loyal")])
    ChannelBudget.objects.create(tenant=tenant, campaign=c, channel="sms", allocated=Decimal("300"),
                                 spent=Decimal("120"))
    return c


def test_clone_copies_settings_content_and_audience_into_a_new_draft(in_tenant_a, owner):
    original = _rich_campaign(in_tenant_a)
    run(original, status=RunStatus.COMPLETED, counters={"sms": {"targeted": 5, "sent": 5}})

    copy = services.campaign_clone(campaign=original, actor=owner)

    assert copy.pk != original.pk
    assert copy.name == "Copy of Diwali sale" and copy.status == S.DRAFT and copy.created_by == owner
    for name in services.CLONE_FIELDS:
        assert getattr(copy, name) == getattr(original, name), name
    assert list(copy.segments.values_list("name", flat=True)) == ["VIP"]
    assert list(copy.lists.values_list("name", flat=True)) == ["Testers"]
    assert list(copy.tags.values_list("name", flat=True)) == ["loyal"]
    assert {c.channel: c.data for c in copy.contents.all()} == {c.channel: c.data for c in original.contents.all()}
    budget = copy.budgets.get()
    assert (budget.channel, budget.allocated, budget.spent) == ("sms", Decimal("300"), Decimal("0"))
    assert not copy.runs.exists()  # a fresh start: no sends, no figures
    original.refresh_from_db()
    assert original.status == S.COMPLETED


@pytest.mark.parametrize("status", [S.DRAFT, S.SCHEDULED])
def test_drafts_and_scheduled_campaigns_are_deleted(in_tenant_a, status):
    c = campaign(in_tenant_a, status=status)
    assert services.campaign_delete(campaign=c) == "deleted"
    assert not Campaign.objects.filter(pk=c.pk).exists()


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.FAILED])
def test_sent_campaigns_are_archived_with_their_results(in_tenant_a, status):
    c = campaign(in_tenant_a, status=status)
    r = run(c, status=RunStatus.COMPLETED)
    delivery(r, contact(in_tenant_a))
    assert services.campaign_delete(campaign=c) == "archived"
    c.refresh_from_db()
    assert c.archived_at is not None and c.status == status
    assert Delivery.objects.filter(campaign=c).count() == 1


@pytest.mark.parametrize("status", [S.ACTIVE, S.PAUSED])
def test_a_running_campaign_is_neither_deleted_nor_archived(in_tenant_a, status):
    c = campaign(in_tenant_a, status=status)
    with pytest.raises(IllegalTransition, match="cancel it before"):
        services.campaign_delete(campaign=c)
    c.refresh_from_db()
    assert c.archived_at is None and c.status == status


def test_pause_then_resume_moves_the_run_and_requeues_dispatch(in_tenant_a, django_capture_on_commit_callbacks):
    pytest.importorskip("campaigns.tasks", reason="the delivery engine lands on main")
    c = campaign(in_tenant_a, status=S.ACTIVE, channels=("sms", "email"))
    r = run(c, status=RunStatus.SENDING)
    services.campaign_pause(campaign=c)
    r.refresh_from_db()
    assert (c.status, r.status) == (S.PAUSED, RunStatus.PAUSED)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.campaign_resume(campaign=c)
    r.refresh_from_db()
    assert (c.status, r.status) == (S.ACTIVE, RunStatus.SENDING)
    assert len(callbacks) == 1  # one on-commit hook enqueueing a dispatch per channel


def test_pause_stops_the_sending_run(in_tenant_a):
    c = campaign(in_tenant_a, status=S.ACTIVE)
    r = run(c, status=RunStatus.SENDING)
    services.campaign_pause(campaign=c)
    r.refresh_from_db()
    assert (c.status, r.status) == (S.PAUSED, RunStatus.PAUSED)


def test_pausing_a_completed_campaign_is_refused_and_changes_nothing(in_tenant_a):
    c = campaign(in_tenant_a, status=S.COMPLETED)
    r = run(c, status=RunStatus.COMPLETED)
    with pytest.raises(IllegalTransition, match="it is completed"):
        services.campaign_pause(campaign=c)
    c.refresh_from_db()
    r.refresh_from_db()
    assert (c.status, r.status) == (S.COMPLETED, RunStatus.COMPLETED)


def test_cancel_cancels_pending_deliveries_and_counts_them(in_tenant_a):
    pytest.importorskip("campaigns.engine.counters", reason="the delivery engine lands on main")
    c = campaign(in_tenant_a, status=S.ACTIVE)
    r = run(c, counters={"sms": {"targeted": 2, "sent": 1}})
    delivery(r, contact(in_tenant_a, "Asha"), status=DeliveryStatus.SENT)
    pending = delivery(r, contact(in_tenant_a, "Ravi", phone="+919800000002"), status=DeliveryStatus.PENDING)
    services.campaign_cancel(campaign=c)
    pending.refresh_from_db()
    r.refresh_from_db()
    assert (c.status, r.status, pending.status) == (S.CANCELLED, RunStatus.CANCELLED, DeliveryStatus.CANCELLED)
    assert RunChannelStats.objects.get(run=r).cancelled == 1


def _failed_run(tenant):
    c = campaign(tenant, status=S.COMPLETED)
    r = run(c, status=RunStatus.COMPLETED, counters={"sms": {"targeted": 1, "failed": 1}})
    failed = delivery(r, contact(tenant), status=DeliveryStatus.FAILED, attempts=3, error_code="30003",
                      failed_at=timezone.now())
    return c, r, failed


def test_retry_failed_puts_failed_deliveries_back_to_pending(in_tenant_a, django_capture_on_commit_callbacks):
    pytest.importorskip("campaigns.engine.counters", reason="the delivery engine lands on main")
    c, r, failed = _failed_run(in_tenant_a)
    # The failure was counted today, as the engine does.
    DailyChannelStats.objects.create(tenant=in_tenant_a, day=timezone.localdate(timezone.now(), in_tenant_a.tzinfo),
                                     channel="sms", failed=1)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.campaign_retry_failed(campaign=c) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error_code) == (DeliveryStatus.PENDING, 0, "")
    assert CampaignRun.objects.get(pk=r.pk).status == RunStatus.SENDING
    assert RunChannelStats.objects.get(run=r).failed == 0


@pytest.mark.xfail(strict=True, reason="engine bug: retrying a failure counted on an earlier day decrements a "
                                       "new daily row below zero (check constraint); see the grid report")
def test_retry_failed_the_day_after_the_failure(in_tenant_a, django_capture_on_commit_callbacks):
    pytest.importorskip("campaigns.engine.counters", reason="the delivery engine lands on main")
    c, _r, failed = _failed_run(in_tenant_a)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.campaign_retry_failed(campaign=c) == 1
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING


def test_retry_without_failures_is_refused_with_a_reason(in_tenant_a):
    pytest.importorskip("campaigns.engine.counters", reason="the delivery engine lands on main")
    c = campaign(in_tenant_a, status=S.COMPLETED)
    run(c, status=RunStatus.COMPLETED)
    with pytest.raises(IllegalTransition, match="no failed deliveries"):
        services.campaign_retry_failed(campaign=c)
    c.refresh_from_db()
    assert c.status == S.COMPLETED
