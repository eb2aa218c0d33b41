"""The journey engine: contacts enter a drip or triggered campaign, and beat moves them along its
workflow in batches.

Entering is one INSERT ... SELECT over a contact queryset (the trigger's), filtered by the entry
frequency in SQL; the partial unique index (one live journey per campaign and contact) settles
races. Advancing takes up to BATCH due journeys of one campaign with FOR UPDATE SKIP LOCKED and
handles them per (step, state) group with set-based statements:

- send: opted out of the step's channel -> the journey exits (opted_out); everyone else gets a
  Delivery on the campaign's long-lived run, with the same skip reasons as a broadcast fan-out
  (no address, no opt-in, suppressed, channel not configured), then dispatch is woken for that
  channel, so rate limits, calling hours and budget apply exactly as for broadcasts;
- wait: first arrival sets next_due_at (a duration, or the next time of day in the contact's
  zone); when that comes, the journey moves on;
- condition: the earlier send step's Delivery (read/clicked/replied) or a segment rule on the
  contact (attribute, tag) splits the group into yes and no;
- exit (or running off the end of the list): the journey completes.

Every move is an UPDATE conditional on (id, step, state), inside the transaction that holds the
row locks, so a retried or concurrent tick moves nobody twice. Paused campaigns are not scanned
(everyone holds); cancelled or finished campaigns have their live journeys exited by the tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audiences.models import ConsentState, Contact, consent_field
from audiences.segments import compile_rules
from campaigns.engine.fanout import _address_expression, _reason_expression, whatsapp_session_mode
from campaigns.models import (
    LIVE_STATES,
    STEP_STRIDE,
    Campaign,
    CampaignRun,
    CampaignStatus,
    CampaignType,
    ConditionKind,
    Delivery,
    DeliveryStatus,
    EntryFrequency,
    ExitReason,
    Journey,
    JourneyState,
    RunChannelStats,
    RunStatus,
    StepKind,
    WaitMode,
    WorkflowStep,
)
from campaigns.selectors import campaign_channel_config
from tenants.scoping import scopes_disabled

logger = logging.getLogger(__name__)

BATCH = 500
# After a bulk insert this large, refresh the table's planner statistics (see planner_stats_refresh).
ANALYZE_AFTER_ROWS = 5000
MAX_ROUNDS = 40  # batches per campaign per tick; the rest waits for the next tick
FINISHED_CAMPAIGN = (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED, CampaignStatus.FAILED)


@dataclass
class AdvanceOutcome:
    moved: int = 0
    sent: int = 0  # deliveries created (pending or skipped)
    exited: int = 0
    completed: int = 0
    channels: set[str] = field(default_factory=set)


# --- the long-lived run -------------------------------------------------------------------------

def journey_run(campaign: Campaign) -> CampaignRun | None:
    """The campaign's one live run (created at launch), if any."""
    return (CampaignRun.objects.filter(campaign=campaign, is_test=False).exclude(status__in=CampaignRun.FINAL)
            .order_by("-created_at").first())


def run_stats_ensure(run: CampaignRun, channels) -> None:
    RunChannelStats.objects.bulk_create(
        [RunChannelStats(tenant_id=run.tenant_id, run=run, campaign_id=run.campaign_id, channel=ch) for ch in channels],
        ignore_conflicts=True,
    )


def journey_run_open(*, run_id) -> bool:
    """Fan-out hook: a drip or triggered run has no audience snapshot; it simply starts sending.

    Returns False for broadcasts (the caller fans them out as usual).
    """
    run = CampaignRun.objects.select_related("campaign").filter(pk=run_id).first()
    if run is None or run.campaign.type == CampaignType.BROADCAST or run.is_test:
        return False
    CampaignRun.objects.filter(pk=run.pk, status__in=(RunStatus.PENDING, RunStatus.FANNING_OUT)).update(
        status=RunStatus.SENDING, fanned_out_at=timezone.now())
    run_stats_ensure(run, run.campaign.channels)
    return True


# --- entering -----------------------------------------------------------------------------------

def planner_stats_refresh(model, rows: int) -> None:
    """ANALYZE a table that just grew by `rows` in one statement.

    Autovacuum analyzes later; until then PostgreSQL estimates a campaign's journeys at a handful
    of rows when there are 20,000, and plans the next entry check's anti-joins as nested loops
    rescanning them: 266 s measured on 20,000 contacts, 0.1 s once analyzed.
    """
    if rows >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _prep(model, field_name: str, value):
    return model._meta.get_field(field_name).get_db_prep_value(value, connection)


def _journeys_of(campaign: Campaign) -> QuerySet[Journey]:
    """The campaign's journeys for correlated subqueries, without the scoped manager's tenant filter.

    The campaign already pins the tenant; the scoped manager's extra `tenant_id = ...` only
    tempted the planner onto the tenant index instead of the (campaign, contact ...) ones.
    """
    return Journey._base_manager.filter(campaign_id=campaign.pk)


def entry_candidates(*, campaign: Campaign, contacts: QuerySet[Contact], now: dt.datetime) -> QuerySet[Contact]:
    """`contacts` minus those the trigger's entry frequency keeps out (and those already inside)."""
    trigger = campaign.trigger
    mine = _journeys_of(campaign).filter(contact_id=OuterRef("pk"))
    contacts = contacts.filter(~Exists(mine.filter(state__in=LIVE_STATES)))
    if trigger.frequency == EntryFrequency.ONCE:
        contacts = contacts.filter(~Exists(mine))
    elif trigger.frequency == EntryFrequency.INTERVAL:
        since = now - dt.timedelta(days=trigger.frequency_days or 1)
        contacts = contacts.filter(~Exists(mine.filter(entered_at__gt=since)))
    return contacts


def journeys_enter(*, campaign: Campaign, contacts: QuerySet[Contact], now: dt.datetime | None = None,
                   source: str = "", event_id: int | None = None) -> int:
    """Start a journey at the first step for every contact of `contacts` the frequency lets in.

    One statement whatever the number of contacts; returns how many journeys started. Only an
    active campaign with a workflow takes entries.
    """
    now = now or timezone.now()
    if campaign.status != CampaignStatus.ACTIVE:
        return 0
    first = WorkflowStep.objects.filter(campaign=campaign).order_by("position").first()
    if first is None:
        return 0
    candidates = entry_candidates(campaign=campaign, contacts=contacts, now=now)
    # The contact's latest entry number, read backwards from the (campaign, contact, entry_number)
    # unique index: one index probe per contact. (A COUNT here was planned on the campaign index and
    # walked the rows this very statement had inserted, once per contact: 9.5 s for 20,000.)
    latest = _journeys_of(campaign).filter(contact_id=OuterRef("pk")).order_by("-entry_number").values(
        "entry_number")[:1]
    select = (candidates.annotate(entry=Coalesce(Subquery(latest, output_field=IntegerField()) + 1, Value(0)))
              .values("id", "entry").order_by())
    select_sql, select_params = select.query.sql_with_params()
    table = Journey._meta.db_table
    sql = f"""
        INSERT INTO {table} (tenant_id, campaign_id, contact_id, step_id, state, next_due_at, entry_number,
                             entered_at, exit_reason, source, event_id)
        SELECT %s, %s, a.id, %s, %s, %s, a.entry, %s, '', %s, %s
        FROM ({select_sql}) a
        WHERE true
        ON CONFLICT DO NOTHING
    """
    now_db = _prep(Journey, "entered_at", now)
    params = [campaign.tenant_id, _prep(Journey, "campaign", campaign.pk), _prep(Journey, "step", first.pk),
              JourneyState.ACTIVE.value, now_db, now_db, source[:80], event_id, *select_params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        started = cursor.rowcount
        if started:
            WorkflowStep.objects.filter(pk=first.pk).update(entered_count=F("entered_count") + started)
            journeys_advance_soon(campaign)
    planner_stats_refresh(Journey, started)
    if started:
        logger.info("Campaign %s: %d journeys started (%s)", campaign.pk, started, source)
    return started


def journeys_advance_soon(campaign: Campaign) -> None:
    """Run the campaign's due journeys right after commit instead of waiting for the next beat."""
    from campaigns.journeys.tasks import journeys_advance_task

    tenant_id, campaign_id = campaign.tenant_id, str(campaign.pk)
    transaction.on_commit(lambda: journeys_advance_task.delay(tenant_id, campaign_id))


# --- advancing ----------------------------------------------------------------------------------

def _lock_due(campaign: Campaign, now: dt.datetime, limit: int) -> list[tuple]:
    return list(
        Journey.objects.select_for_update(skip_locked=True)
        .filter(campaign=campaign, state__in=LIVE_STATES, next_due_at__lte=now)
        .order_by("next_due_at", "id")
        .values_list("id", "step_id", "state")[:limit]
    )


class _Mover:
    """Conditional moves of one group of locked journeys (same step, same state)."""

    def __init__(self, campaign: Campaign, steps: dict, ordered: list[WorkflowStep], now: dt.datetime,
                 outcome: AdvanceOutcome) -> None:
        self.campaign, self.steps, self.ordered, self.now, self.outcome = campaign, steps, ordered, now, outcome

    def rows(self, ids, step_id, state):
        return Journey.objects.filter(pk__in=list(ids), step_id=step_id, state=state)

    def to(self, ids, step_id, state, target: WorkflowStep | None) -> int:
        if not ids:
            return 0
        if target is None:  # ran off the end of the list
            n = self.rows(ids, step_id, state).update(state=JourneyState.COMPLETED, finished_at=self.now,
                                                     next_due_at=None)
            self.outcome.completed += n
            return n
        n = self.rows(ids, step_id, state).update(step_id=target.pk, state=JourneyState.ACTIVE, next_due_at=self.now)
        if n:
            WorkflowStep.objects.filter(pk=target.pk).update(entered_count=F("entered_count") + n)
        self.outcome.moved += n
        return n

    def end(self, ids, step_id, state, *, final_state: str, reason: str) -> int:
        if not ids:
            return 0
        n = self.rows(ids, step_id, state).update(state=final_state, exit_reason=reason, finished_at=self.now,
                                                 next_due_at=None)
        if final_state == JourneyState.EXITED:
            self.outcome.exited += n
        else:
            self.outcome.completed += n
        return n

    def next_of(self, step: WorkflowStep) -> WorkflowStep | None:
        from campaigns.journeys.workflow import next_of

        return next_of(step, self.ordered)


def _send(mover: _Mover, run: CampaignRun, step: WorkflowStep, ids: list[int]) -> None:
    channel = step.channel
    opted_out = list(Journey.objects.filter(pk__in=ids, **{f"contact__{consent_field(channel)}": ConsentState.OPTED_OUT})
                     .values_list("pk", flat=True)) if channel != "social" else []
    mover.end(opted_out, step.pk, JourneyState.ACTIVE, final_state=JourneyState.EXITED, reason=ExitReason.OPTED_OUT)
    going = [pk for pk in ids if pk not in set(opted_out)]
    if not going:
        return
    config = campaign_channel_config(mover.campaign, channel)
    entry = Journey.objects.filter(pk__in=going, contact_id=OuterRef("pk")).values("entry_number")[:1]
    audience = (
        Contact.objects.filter(Exists(Journey.objects.filter(pk__in=going, contact_id=OuterRef("pk"))))
        .annotate(fan_address=_address_expression(channel),
                  fan_reason=_reason_expression(channel, configured=config is not None,
                                                session_window=whatsapp_session_mode(step.data)),
                  fan_entry=Subquery(entry, output_field=IntegerField()))
        .values("id", "fan_address", "fan_reason", "fan_entry")
        .order_by()
    )
    select_sql, select_params = audience.query.sql_with_params()
    uuid_sql = "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    table = Delivery._meta.db_table
    sql = f"""
        INSERT INTO {table} (uuid, tenant_id, run_id, campaign_id, contact_id, channel, step, address, status,
                             skip_reason, attempts, is_test, channel_config_id, provider_message_id,
                             disposition, error_code, error_message, cost, reply_text, created_at)
        SELECT {uuid_sql}, %s, %s, %s, a.id, %s, a.fan_entry * %s + %s, a.fan_address,
               CASE WHEN a.fan_reason <> '' THEN %s ELSE %s END, a.fan_reason,
               0, false, %s, '', '', '', '', 0, '', %s
        FROM ({select_sql}) a
        WHERE true
        ON CONFLICT DO NOTHING
        RETURNING status
    """
    params = [
        run.tenant_id, _prep(Delivery, "run", run.pk), _prep(Delivery, "campaign", mover.campaign.pk), channel,
        STEP_STRIDE, step.number, DeliveryStatus.SKIPPED.value, DeliveryStatus.PENDING.value,
        _prep(Delivery, "channel_config", config.pk if config else None), _prep(Delivery, "created_at", mover.now),
        *select_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        statuses = [row[0] for row in cursor.fetchall()]
    if statuses:
        from campaigns.engine.counters import stats_bump_many

        run_stats_ensure(run, [channel])
        skipped = sum(1 for s in statuses if s == DeliveryStatus.SKIPPED)
        stats_bump_many(run=run, deltas={channel: {"targeted": len(statuses), "skipped": skipped}})
        mover.outcome.sent += len(statuses)
        if skipped < len(statuses):
            mover.outcome.channels.add(channel)
    mover.to(going, step.pk, JourneyState.ACTIVE, mover.next_of(step))


def wait_until_local(now: dt.datetime, tz: zoneinfo.ZoneInfo, at: dt.time) -> dt.datetime:
    """The next `at` o'clock (strictly after now) on the wall clock of `tz`, as UTC."""
    local = now.astimezone(tz)
    day = local.date() if local.time() < at else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, at).replace(tzinfo=tz).astimezone(dt.UTC)


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else fallback
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def _wait(mover: _Mover, step: WorkflowStep, ids: list[int], state: str) -> None:
    if state == JourneyState.WAITING:  # the wait is over
        mover.to(ids, step.pk, JourneyState.WAITING, mover.next_of(step))
        return
    rows = mover.rows(ids, step.pk, JourneyState.ACTIVE)
    if step.wait_mode == WaitMode.DURATION:
        rows.update(state=JourneyState.WAITING, next_due_at=mover.now + dt.timedelta(minutes=step.wait_minutes))
        return
    # Until a time of day: each contact's own zone (the tenant's when blank). Grouped by zone so
    # the batch needs one UPDATE per distinct zone, not one per contact.
    tenant_tz = mover.campaign.tenant.tzinfo
    by_zone: dict[str, list[int]] = defaultdict(list)
    for pk, tz_name in rows.values_list("pk", "contact__timezone"):
        by_zone[tz_name or ""].append(pk)
    for tz_name, pks in by_zone.items():
        due = wait_until_local(mover.now, _zone(tz_name, tenant_tz), step.wait_until or dt.time(9))
        mover.rows(pks, step.pk, JourneyState.ACTIVE).update(state=JourneyState.WAITING, next_due_at=due)


def _condition_q(run: CampaignRun | None, step: WorkflowStep) -> Q:
    """Q over Journey: the journeys for which the condition holds."""
    if step.condition_kind in (ConditionKind.ATTRIBUTE, ConditionKind.TAG):
        rule = compile_rules({"match": "all", "rules": [step.condition_rule or {}]}, now=timezone.now())
        return Q(Exists(Contact.objects.filter(rule, pk=OuterRef("contact_id"))))
    target = step.condition_step
    if run is None or target is None:
        return Q(pk__in=[])
    engaged = {
        ConditionKind.OPENED: Q(read_at__isnull=False) | Q(clicked_at__isnull=False) | Q(replied_at__isnull=False),
        ConditionKind.CLICKED: Q(clicked_at__isnull=False),
        ConditionKind.REPLIED: Q(replied_at__isnull=False),
    }[step.condition_kind]
    deliveries = Delivery.objects.filter(
        engaged, run_id=run.pk, contact_id=OuterRef("contact_id"), channel=target.channel,
        step=OuterRef("entry_number") * STEP_STRIDE + target.number,
    )
    return Q(Exists(deliveries))


def _condition(mover: _Mover, run: CampaignRun | None, step: WorkflowStep, ids: list[int]) -> None:
    from campaigns.journeys.workflow import branches_of

    yes_ids = list(Journey.objects.filter(pk__in=ids).filter(_condition_q(run, step)).values_list("pk", flat=True))
    no_ids = [pk for pk in ids if pk not in set(yes_ids)]
    yes, no = branches_of(step, mover.ordered)
    mover.to(yes_ids, step.pk, JourneyState.ACTIVE, yes)
    mover.to(no_ids, step.pk, JourneyState.ACTIVE, no)


def _advance_batch(campaign: Campaign, run: CampaignRun | None, now: dt.datetime, outcome: AdvanceOutcome) -> int:
    with transaction.atomic():
        due = _lock_due(campaign, now, BATCH)
        if not due:
            return 0
        ordered = list(WorkflowStep.objects.filter(campaign=campaign).select_related("condition_step")
                       .order_by("position"))
        steps = {s.pk: s for s in ordered}
        mover = _Mover(campaign, steps, ordered, now, outcome)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for pk, step_id, state in due:
            groups[(step_id, state)].append(pk)
        for (step_id, state), ids in groups.items():
            step = steps.get(step_id)
            if step is None:
                mover.end(ids, step_id, state, final_state=JourneyState.EXITED, reason=ExitReason.STEP_REMOVED)
            elif step.kind == StepKind.SEND:
                if run is None:
                    continue  # no run to send on (not launched through the journey service): hold
                _send(mover, run, step, ids)
            elif step.kind == StepKind.WAIT:
                _wait(mover, step, ids, state)
            elif step.kind == StepKind.CONDITION:
                _condition(mover, run, step, ids)
            else:
                mover.end(ids, step_id, state, final_state=JourneyState.COMPLETED, reason=ExitReason.EXIT_STEP)
        return len(due)


def journeys_advance(*, campaign_id, now: dt.datetime | None = None) -> AdvanceOutcome:
    """Move the campaign's due journeys as far as they can go now (bounded by MAX_ROUNDS batches)."""
    now = now or timezone.now()
    outcome = AdvanceOutcome()
    campaign = Campaign.objects.select_related("tenant").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.ACTIVE:
        return outcome  # paused: everyone holds where they are
    run = journey_run(campaign)
    for _ in range(MAX_ROUNDS):
        if not _advance_batch(campaign, run, now, outcome):
            break
    if run is not None and outcome.channels:
        from campaigns.tasks import run_dispatch_task

        tenant_id, run_id = campaign.tenant_id, str(run.pk)
        channels = sorted(outcome.channels)
        transaction.on_commit(lambda: [run_dispatch_task.delay(tenant_id, run_id, ch) for ch in channels])
    return outcome


def journeys_exit_finished(*, now: dt.datetime | None = None) -> int:
    """Live journeys of cancelled (or otherwise finished) campaigns exit; across tenants."""
    now = now or timezone.now()
    with scopes_disabled():
        return Journey.objects.filter(state__in=LIVE_STATES, campaign__status__in=FINISHED_CAMPAIGN).update(
            state=JourneyState.EXITED, exit_reason=ExitReason.CANCELLED, finished_at=now, next_due_at=None)


def campaigns_with_due_journeys(*, now: dt.datetime | None = None, limit: int = 500) -> list[tuple[int, str]]:
    """(tenant id, campaign id) of active campaigns with journeys due now; across tenants."""
    now = now or timezone.now()
    with scopes_disabled():
        rows = (Journey.objects.filter(state__in=LIVE_STATES, next_due_at__lte=now, campaign__status=CampaignStatus.ACTIVE)
                .values_list("tenant_id", "campaign_id").distinct().order_by()[:limit])
        return [(tenant_id, str(campaign_id)) for tenant_id, campaign_id in rows]
