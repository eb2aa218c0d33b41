"""What beat does every few seconds: start due campaigns exactly once, compute the next occurrence
of recurring ones, return stale claims, and wake dispatch for deliveries that became due.

Future work waits in PostgreSQL (next_run_at, not_before), never as a long countdown in a broker.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from dateutil import rrule
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns import lifecycle
from campaigns.engine.dispatch import activity_key
from campaigns.lifecycle import Action, IllegalTransition
from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Recurrence,
    RunStatus,
)
from tenants.scoping import scopes_disabled, tenant_scope

logger = logging.getLogger(__name__)

STALE_FAN_OUT = dt.timedelta(minutes=15)
LOST_FAN_OUT = dt.timedelta(minutes=1)
_FREQ = {Recurrence.DAILY: rrule.DAILY, Recurrence.WEEKLY: rrule.WEEKLY, Recurrence.MONTHLY: rrule.MONTHLY}


def next_occurrence(campaign: Campaign, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence strictly after `after`, or None past the end date / for one-off campaigns.

    Occurrences are computed on the wall clock of the campaign's time zone and only then turned
    into UTC, so "every day at 09:00" stays 09:00 local across daylight-saving changes.
    """
    if campaign.recurrence == Recurrence.NONE or campaign.scheduled_at is None:
        return None
    tz = zoneinfo.ZoneInfo(campaign.timezone_name)
    start_local = campaign.scheduled_at.astimezone(tz).replace(tzinfo=None)
    after_local = after.astimezone(tz).replace(tzinfo=None)
    until = None
    if campaign.recurrence_end:
        until = dt.datetime.combine(campaign.recurrence_end, dt.time(23, 59, 59))
    if campaign.recurrence == Recurrence.CUSTOM:
        rule = rrule.rrulestr(campaign.recurrence_rule, dtstart=start_local, ignoretz=True)
        if until is not None:
            rule = rule.replace(until=until)
    else:
        rule = rrule.rrule(_FREQ[campaign.recurrence], dtstart=start_local, until=until)
    nxt = rule.after(after_local, inc=False)
    if nxt is None:
        return None
    return nxt.replace(tzinfo=tz).astimezone(dt.UTC)


def campaign_after_run(*, run: CampaignRun, every_one_failed: bool) -> None:
    """A run ended: a recurring campaign waits for its next occurrence, others complete (or fail)."""
    campaign = Campaign.objects.select_related("tenant").get(pk=run.campaign_id)
    try:
        nxt = next_occurrence(campaign, max(run.occurrence_at, timezone.now()))
        if nxt is not None:
            lifecycle.transition(campaign, Action.RESCHEDULE, next_run_at=nxt)
        elif every_one_failed:
            lifecycle.transition(campaign, Action.FAIL)
        else:
            lifecycle.transition(campaign, Action.COMPLETE)
    except IllegalTransition as exc:  # paused or cancelled meanwhile: leave it as the user set it
        logger.info("Run %s finished; campaign not moved: %s", run.pk, exc)


def campaigns_start_due(*, now: dt.datetime | None = None, limit: int = 50) -> int:
    """Start scheduled campaigns whose time has come. Two beats racing start each exactly once:
    the rows are locked with SKIP LOCKED and the run is unique per (campaign, occurrence)."""
    from campaigns.services import run_create

    now = now or timezone.now()
    started = 0
    with scopes_disabled(), transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(status=CampaignStatus.SCHEDULED, next_run_at__lte=now, archived_at__isnull=True)
            .order_by("next_run_at")[:limit]
        )
        for campaign in due:
            with tenant_scope(campaign.tenant_id):
                occurrence = campaign.next_run_at
                lifecycle.transition(campaign, Action.START, next_run_at=None)
                if run_create(campaign=campaign, occurrence_at=occurrence) is not None:
                    started += 1
                    late = (now - occurrence).total_seconds()
                    logger.info("Campaign %s started (%.1f s after its time)", campaign.pk, late)
    return started


def deliveries_reap(*, now: dt.datetime | None = None) -> int:
    """Claims older than the claim timeout belong to a dead worker: back to pending (sent at most again)."""
    now = now or timezone.now()
    timeout = dt.timedelta(seconds=settings.ENGINE_CLAIM_TIMEOUT_SECONDS)
    with scopes_disabled():
        stale = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - timeout)
        count = stale.update(status=DeliveryStatus.PENDING)
    if count:
        logger.warning("Reaper returned %d stale claims to pending", count)
    return count


def runs_recover(*, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """Runs whose fan-out message was lost or whose fan-out worker died: fan them out again."""
    now = now or timezone.now()
    with scopes_disabled():
        lost = CampaignRun.objects.filter(status=RunStatus.PENDING, is_test=False, created_at__lt=now - LOST_FAN_OUT)
        dead = CampaignRun.objects.filter(status=RunStatus.FANNING_OUT, created_at__lt=now - STALE_FAN_OUT)
        dead.update(status=RunStatus.PENDING)
        return [(tenant_id, str(pk)) for pk, tenant_id in lost.values_list("pk", "tenant_id")[:100]]


def runs_needing_dispatch(*, now: dt.datetime | None = None) -> list[tuple[int, str, str]]:
    """(tenant, run, channel) with due pending deliveries and no dispatcher seen in the last minute."""
    now = now or timezone.now()
    out = []
    with scopes_disabled():  # beat looks across tenants; each run is then handled in its own scope
        due = Delivery.objects.filter(run_id=OuterRef("pk"), status=DeliveryStatus.PENDING, not_before__lte=now)
        due_now = Delivery.objects.filter(run_id=OuterRef("pk"), status=DeliveryStatus.PENDING,
                                          not_before__isnull=True)
        runs = CampaignRun.objects.filter(status=RunStatus.SENDING).filter(Exists(due) | Exists(due_now))
        for run in runs.select_related("campaign")[:200]:
            with tenant_scope(run.tenant_id):
                for channel in run.campaign.channels:
                    if cache.get(activity_key(run.pk, channel)) is None:
                        out.append((run.tenant_id, str(run.pk), channel))
    return out
