"""Writes to campaigns: launch, pause, resume, cancel, retry, clone, delete, test send.

Views call these; each checks the lifecycle first (campaigns.lifecycle) and acts only when the
transition succeeded. Work for the workers is enqueued on commit, so a rolled-back request
enqueues nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from campaigns import lifecycle
from campaigns.lifecycle import Action, IllegalTransition
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    CampaignType,
    ChannelBudget,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
    RunStatus,
    SendMode,
)
from campaigns.selectors import campaign_readiness_errors

__all__ = [
    "CampaignNotReady", "IllegalTransition", "campaign_cancel", "campaign_clone", "campaign_delete",
    "campaign_launch", "campaign_pause", "campaign_resume", "campaign_retry_failed", "campaign_send_test",
    "enqueue_dispatch", "enqueue_fan_out", "run_create", "TestSendRefused",
]


class CampaignNotReady(Exception):
    """Launch refused: the campaign has problems the marketer must fix first (shown as a list)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def enqueue_fan_out(run: CampaignRun) -> None:
    from campaigns.tasks import run_fan_out_task

    tenant_id, run_id = run.tenant_id, str(run.pk)
    transaction.on_commit(lambda: run_fan_out_task.delay(tenant_id, run_id))


def enqueue_dispatch(run: CampaignRun) -> None:
    from campaigns.tasks import run_dispatch_task

    tenant_id, run_id = run.tenant_id, str(run.pk)
    channels = list(run.campaign.channels)
    transaction.on_commit(lambda: [run_dispatch_task.delay(tenant_id, run_id, ch) for ch in channels])


def run_create(*, campaign: Campaign, occurrence_at: dt.datetime) -> CampaignRun | None:
    """The run for one occurrence, created at most once (the unique constraint decides races).

    Returns None when another caller already created it.
    """
    with transaction.atomic():
        run, created = CampaignRun.objects.get_or_create(
            tenant_id=campaign.tenant_id, campaign=campaign, occurrence_at=occurrence_at, is_test=False,
        )
        if not created:
            return None
        enqueue_fan_out(run)
    return run


def campaign_launch(*, campaign: Campaign, actor=None, now: dt.datetime | None = None) -> Campaign:
    """Send now, or schedule for campaign.scheduled_at. Raises CampaignNotReady or IllegalTransition."""
    if campaign.type != CampaignType.BROADCAST:
        # Drip and triggered campaigns: content lives in workflow steps, the audience is the trigger.
        from campaigns.journeys.services import journey_campaign_launch

        return journey_campaign_launch(campaign=campaign, now=now)
    now = now or timezone.now()
    problems = campaign_readiness_errors(campaign, now=now)
    if problems:
        raise CampaignNotReady(problems)
    with transaction.atomic():
        if campaign.send_mode == SendMode.SCHEDULED:
            return lifecycle.transition(campaign, Action.SCHEDULE, next_run_at=campaign.scheduled_at)
        campaign = lifecycle.transition(campaign, Action.SEND_NOW, next_run_at=None)
        run_create(campaign=campaign, occurrence_at=now)
    return campaign


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Dispatch stops claiming at its next batch; what is in flight finishes."""
    with transaction.atomic():
        campaign = lifecycle.transition(campaign, Action.PAUSE)
        CampaignRun.objects.filter(campaign=campaign, status__in=CampaignRun.ACTIVE).update(status=RunStatus.PAUSED)
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        campaign = lifecycle.transition(campaign, Action.RESUME)
        runs = list(CampaignRun.objects.filter(campaign=campaign, status=RunStatus.PAUSED).select_related("campaign"))
        for run in runs:
            if run.fanned_out_at is None:
                CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING)
                enqueue_fan_out(run)
            else:
                CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.SENDING)
                enqueue_dispatch(run)
        if not runs and campaign.next_run_at is not None:
            # Paused while waiting for its (next) occurrence: back to waiting.
            lifecycle.transition(campaign, Action.RESCHEDULE)
            campaign.refresh_from_db()
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Nothing more is sent; pending deliveries become cancelled (counted), in-flight ones finish."""
    from campaigns.engine.counters import stats_bump_many

    with transaction.atomic():
        campaign = lifecycle.transition(campaign, Action.CANCEL, next_run_at=None)
        runs = list(CampaignRun.objects.filter(campaign=campaign).exclude(status__in=CampaignRun.FINAL))
        for run in runs:
            by_channel: dict[str, int] = {}
            pending = Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING)
            for channel in run.campaign.channels:
                by_channel[channel] = pending.filter(channel=channel).update(status=DeliveryStatus.CANCELLED)
            stats_bump_many(run=run, deltas={ch: {"cancelled": n} for ch, n in by_channel.items() if n})
            CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED, finished_at=timezone.now())
    return campaign


def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Failed deliveries of the latest run go back to pending (attempts reset); returns how many."""
    from campaigns.engine.counters import stats_bump_many

    with transaction.atomic():
        run = CampaignRun.objects.filter(campaign=campaign, is_test=False).order_by("-occurrence_at").first()
        if run is None or not Delivery.objects.filter(run=run, status=DeliveryStatus.FAILED).exists():
            raise IllegalTransition(f"“{campaign.name}” has no failed deliveries to retry.")
        campaign = lifecycle.transition(campaign, Action.RETRY_FAILED)
        deltas: dict[str, dict[str, int]] = {}
        for channel in campaign.channels:
            n = Delivery.objects.filter(run=run, channel=channel, status=DeliveryStatus.FAILED).update(
                status=DeliveryStatus.PENDING, attempts=0, failed_at=None, error_code="", error_message="",
                not_before=None,
            )
            if n:
                deltas[channel] = {"failed": -n}
        stats_bump_many(run=run, deltas=deltas)
        CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.SENDING, finished_at=None)
        run.campaign = campaign
        enqueue_dispatch(run)
    return sum(-d["failed"] for d in deltas.values())


CLONE_FIELDS = (
    "description", "type", "purpose", "channels", "notes", "audience_everyone", "budget_total", "currency",
    "send_mode", "schedule_timezone", "recurrence", "recurrence_rule", "recurrence_end", "calling_hours_start",
    "calling_hours_end", "calling_hours_mode", "calling_hours_timezone", "throttle_per_minute",
    "batch_delay_seconds", "whatsapp_list_size", "track_delivery", "track_reads", "track_links",
)


def campaign_clone(*, campaign: Campaign, actor=None) -> Campaign:
    """A new draft "Copy of ..." with the same settings, content and audience (any status)."""
    with transaction.atomic():
        copy = Campaign(
            tenant_id=campaign.tenant_id, name=f"Copy of {campaign.name}"[:160], created_by=actor,
            status=CampaignStatus.DRAFT, **{f: getattr(campaign, f) for f in CLONE_FIELDS},
        )
        if copy.send_mode == SendMode.SCHEDULED:
            copy.scheduled_at = campaign.scheduled_at if campaign.scheduled_at and campaign.scheduled_at > timezone.now() else None
        copy.save()
        copy.segments.set(campaign.segments.all())
        copy.lists.set(campaign.lists.all())
        copy.tags.set(campaign.tags.all())
        CampaignContent.objects.bulk_create([
            CampaignContent(tenant_id=c.tenant_id, campaign=copy, channel=c.channel, channel_config=c.channel_config,
                            data=c.data)
            for c in campaign.contents.all()
        ])
        ChannelBudget.objects.bulk_create([
            ChannelBudget(tenant_id=b.tenant_id, campaign=copy, channel=b.channel, allocated=b.allocated)
            for b in campaign.budgets.all()
        ])
    return copy


def campaign_delete(*, campaign: Campaign) -> str:
    """Drafts and scheduled campaigns are deleted; anything that sent is archived, never lost."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status in lifecycle.DELETABLE_STATUSES and not locked.runs.exists():
            locked.delete()
            return "deleted"
        if locked.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
            raise IllegalTransition(f"“{locked.name}” is {locked.get_status_display().lower()}: cancel it before "
                                    "archiving it.")
        Campaign.objects.filter(pk=locked.pk).update(archived_at=timezone.now())
        return "archived"


def run_stats_ensure(*, run: CampaignRun) -> None:
    RunChannelStats.objects.bulk_create(
        [RunChannelStats(tenant_id=run.tenant_id, run=run, campaign_id=run.campaign_id, channel=ch)
         for ch in run.campaign.channels],
        ignore_conflicts=True,
    )


class TestSendRefused(Exception):
    """A test send that cannot go out (no address, no consent, channel not configured)."""


def campaign_send_test(*, campaign: Campaign, channel: str, contact=None, address: str = "") -> Delivery:
    """Send the campaign's content for one channel to one contact or address, right now.

    Marked as a test and left out of every statistic. A chosen contact must be reachable on the
    channel (consent is never bypassed); an explicitly typed test address is the sender's own.
    """
    from audiences.selectors import unreachable_reason
    from campaigns.engine.dispatch import MessageBuilder, deliveries_send
    from campaigns.selectors import campaign_channel_config
    from channels.selectors import channel_adapter

    if channel not in campaign.channels:
        raise TestSendRefused("This campaign does not use that channel.")
    if contact is not None:
        reason = unreachable_reason(contact, channel)
        if reason:
            raise TestSendRefused(f"{contact} cannot receive {channel} messages: {reason}.")
        address = contact.address_for(channel) or (
            contact.push_subscriptions.order_by("-created_at").values_list("endpoint", flat=True).first() or "")
    address = (address or "").strip()
    if not address:
        raise TestSendRefused("Choose a contact or type a test address.")
    config = campaign_channel_config(campaign, channel)
    if config is None:
        raise TestSendRefused("This channel has no enabled configuration.")
    now = timezone.now()
    with transaction.atomic():
        run = CampaignRun.objects.create(tenant_id=campaign.tenant_id, campaign=campaign, occurrence_at=now,
                                         is_test=True, status=RunStatus.SENDING, fanned_out_at=now)
        delivery = Delivery.objects.create(
            tenant_id=campaign.tenant_id, run=run, campaign=campaign, contact=contact, channel=channel,
            address=address, is_test=True, status=DeliveryStatus.SENDING, claimed_at=now, attempts=1,
            channel_config=config,
        )
    run.campaign = campaign
    deliveries_send(run=run, channel=channel, ids=[delivery.pk], claim_time=now, adapter=channel_adapter(config),
                    builder=MessageBuilder(campaign, channel), max_attempts=1)
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED, finished_at=timezone.now())
    delivery.refresh_from_db()
    return delivery
