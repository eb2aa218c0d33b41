"""Drip and triggered campaigns on the real database, driven through time with time-machine:
entry by segment, event and date, each entry frequency, a branching workflow, pause / resume /
cancel, opt-out mid-journey, and concurrent ticks that never move anybody twice."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections

from audiences.models import ConsentState, Contact, Segment, Tag
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.journeys import engine, triggers
from campaigns.journeys.services import journey_campaign_launch, journey_readiness_errors
from campaigns.journeys.workflow import step_add, step_update
from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    CampaignTrigger,
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
    TriggerKind,
    WaitMode,
    WorkflowStep,
)
from channels.models import ChannelConfig, OutboxMessage
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

IN = ConsentState.OPTED_IN
OUT = ConsentState.OPTED_OUT
T0 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)  # 11:30 in Kolkata, inside SMS calling hours


@pytest.fixture(autouse=True)
def _redis_clean():
    from django.core.cache import cache

    cache.clear()


def sandbox(tenant, channel):
    config = ChannelConfig(tenant=tenant, name=f"{channel} sandbox", channel=channel, provider="sandbox",
                           settings={}, rate_per_second=1000.0, unit_cost=Decimal("0.01"), is_default=True)
    config.set_secrets({})
    config.save()
    return config


def contact(tenant, n, **kw):
    defaults = {"first_name": f"C{n}", "email": f"c{n}@example.com", "phone": f"+9198000{n:05d}",
                "consent_email": IN, "consent_sms": IN, "city": "Pune"}
    defaults.update(kw)
    return Contact.objects.create(tenant=tenant, **defaults)


@pytest.fixture
def scoped(tenant_a):
    with tenant_scope(tenant_a):
        sandbox(tenant_a, "email")
        sandbox(tenant_a, "sms")
        yield tenant_a


def pune(tenant) -> Segment:
    return Segment.objects.create(tenant=tenant, name="Pune", rules={
        "match": "all", "rules": [{"field": "city", "op": "in", "value": ["Pune"]}]})


def email_step(campaign, subject, after=None):
    step = step_add(campaign=campaign, kind=StepKind.SEND, after=after)
    return step_update(step=step, values={"channel": "email", "data": {"subject": subject, "html": f"<p>{subject}</p>"}})


def journey_campaign(tenant, *, kind=TriggerKind.SEGMENT_ENTRY, frequency=EntryFrequency.ONCE, **trigger) -> Campaign:
    c = Campaign.objects.create(tenant=tenant, name="Onboarding", type=CampaignType.DRIP)
    if kind == TriggerKind.SEGMENT_ENTRY:
        trigger.setdefault("segment", pune(tenant))
    CampaignTrigger.objects.create(tenant=tenant, campaign=c, kind=kind, frequency=frequency, **trigger)
    return c


def branching(c: Campaign) -> dict[str, WorkflowStep]:
    """send A -> wait 2 days -> opened A? yes: send B / no: send C -> exit."""
    a = email_step(c, "Welcome")
    wait = step_update(step=step_add(campaign=c, kind=StepKind.WAIT), values={"wait_minutes": 2 * 24 * 60})
    cond = step_add(campaign=c, kind=StepKind.CONDITION)
    b = email_step(c, "Thanks for reading")
    cc = email_step(c, "Did you miss us")
    done = step_add(campaign=c, kind=StepKind.EXIT)
    step_update(step=cond, values={"condition_kind": ConditionKind.OPENED, "condition_step": a, "yes_next": b,
                                   "no_next": cc})
    step_update(step=b, values={"next_step": done})
    return {"a": a, "wait": wait, "cond": cond, "b": b, "c": cc, "exit": done}


def single_send(c: Campaign, subject="Hello") -> WorkflowStep:
    return email_step(c, subject)


def launch(c: Campaign) -> CampaignRun:
    journey_campaign_launch(campaign=c)
    return CampaignRun.objects.get(campaign=c)


def tick(c: Campaign):
    triggers.campaign_triggers_check(campaign=Campaign.objects.get(pk=c.pk))
    return engine.journeys_advance(campaign_id=c.pk)


def drain(run: CampaignRun) -> None:
    for channel in Campaign.objects.get(pk=run.campaign_id).channels:
        while run_dispatch(run_id=run.pk, channel=channel, time_budget=30) == "continue":
            pass


def subjects_of(person: Contact) -> list[str]:
    return list(OutboxMessage.objects.filter(to=person.email).order_by("created_at").values_list("subject", flat=True))


# --- a multi-step journey through time ----------------------------------------------------------

def test_a_branching_journey_sends_b_to_readers_and_c_to_the_others_two_days_later(scoped):
    reader, skimmer = contact(scoped, 1), contact(scoped, 2)
    contact(scoped, 3, city="Mumbai")  # not in the segment
    c = journey_campaign(scoped)
    steps = branching(c)
    with time_machine.travel(T0, tick=False) as clock:
        run = launch(c)
        assert run.status == RunStatus.SENDING
        tick(c)
        drain(run)
        assert subjects_of(reader) == subjects_of(skimmer) == ["Welcome"]
        assert not OutboxMessage.objects.filter(to="c3@example.com").exists()
        Delivery.objects.filter(contact=reader, step=steps["a"].number).update(read_at=T0, status=DeliveryStatus.READ)

        clock.shift(dt.timedelta(days=1))
        tick(c)
        drain(run)
        assert subjects_of(reader) == ["Welcome"]  # still waiting

        clock.shift(dt.timedelta(days=1, minutes=1))
        tick(c)
        drain(run)
    assert subjects_of(reader) == ["Welcome", "Thanks for reading"]
    assert subjects_of(skimmer) == ["Welcome", "Did you miss us"]
    ends = {j.contact_id: (j.state, j.step_id, j.exit_reason) for j in Journey.objects.filter(campaign=c)}
    assert ends[reader.pk] == (JourneyState.COMPLETED, steps["exit"].pk, ExitReason.EXIT_STEP)
    assert ends[skimmer.pk][0] == JourneyState.COMPLETED  # ran past C, the exit below it
    entered = dict(WorkflowStep.objects.filter(campaign=c).values_list("number", "entered_count"))
    assert entered[steps["a"].number] == 2 and entered[steps["b"].number] == 1 and entered[steps["c"].number] == 1
    stats = RunChannelStats.objects.get(run=run, channel="email")
    assert (stats.targeted, stats.sent) == (4, 4)


def test_a_wait_until_a_time_of_day_uses_the_contacts_own_zone(scoped):
    ny = contact(scoped, 1, timezone="America/New_York")
    india = contact(scoped, 2)  # the tenant's zone, Asia/Kolkata
    c = journey_campaign(scoped)
    wait = step_update(step=step_add(campaign=c, kind=StepKind.WAIT),
                       values={"wait_mode": WaitMode.UNTIL_TIME, "wait_until": dt.time(9, 0)})
    single_send(c)
    with time_machine.travel(T0, tick=False):
        launch(c)
        tick(c)
    due = dict(Journey.objects.filter(step=wait).values_list("contact_id", "next_due_at"))
    assert due[ny.pk] == dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)      # 09:00 EST today
    assert due[india.pk] == dt.datetime(2026, 11, 24, 3, 30, tzinfo=dt.UTC)   # 09:00 IST tomorrow


def test_a_tag_condition_splits_contacts_by_their_tags(scoped):
    vip_tag = Tag.objects.create(tenant=scoped, name="VIP")
    vip, other = contact(scoped, 1), contact(scoped, 2)
    vip.tags.add(vip_tag)
    c = journey_campaign(scoped)
    cond = step_add(campaign=c, kind=StepKind.CONDITION)
    yes = email_step(c, "VIP offer")
    no = email_step(c, "Regular offer")
    step_update(step=cond, values={"condition_kind": ConditionKind.TAG, "yes_next": yes, "no_next": no,
                                   "condition_rule": {"field": "tag", "op": "any", "value": [str(vip_tag.pk)]}})
    step_update(step=yes, values={"next_step": None})
    end = step_add(campaign=c, kind=StepKind.EXIT, after=yes)
    step_update(step=yes, values={"next_step": end})
    with time_machine.travel(T0, tick=False):
        run = launch(c)
        tick(c)
        drain(run)
    assert subjects_of(vip) == ["VIP offer"]
    assert subjects_of(other) == ["Regular offer"]


def test_an_attribute_condition_reads_the_contacts_custom_attributes(scoped):
    big, small = contact(scoped, 1, attributes={"spend": 5000}), contact(scoped, 2, attributes={"spend": 10})
    c = journey_campaign(scoped)
    cond = step_add(campaign=c, kind=StepKind.CONDITION)
    yes = email_step(c, "Gold")
    exit_step = step_add(campaign=c, kind=StepKind.EXIT)
    step_update(step=cond, values={"condition_kind": ConditionKind.ATTRIBUTE, "yes_next": yes, "no_next": exit_step,
                                   "condition_rule": {"field": "attribute", "key": "spend", "op": "gte", "value": 1000}})
    with time_machine.travel(T0, tick=False):
        run = launch(c)
        tick(c)
        drain(run)
    assert subjects_of(big) == ["Gold"] and subjects_of(small) == []


# --- entry frequency ----------------------------------------------------------------------------

def _leave(person: Contact) -> None:
    Contact.objects.filter(pk=person.pk).update(city="Mumbai")


def _return(person: Contact) -> None:
    Contact.objects.filter(pk=person.pk).update(city="Pune")


@pytest.mark.parametrize(("frequency", "days", "expected"), [
    (EntryFrequency.ONCE, None, 1),
    (EntryFrequency.EVERY_TIME, None, 3),
    (EntryFrequency.INTERVAL, 7, 2),
])
def test_entry_frequency_decides_how_often_a_returning_contact_enters(scoped, frequency, days, expected):
    person = contact(scoped, 1)
    c = journey_campaign(scoped, frequency=frequency, frequency_days=days)
    single_send(c)
    with time_machine.travel(T0, tick=False) as clock:
        run = launch(c)
        for day in (0, 3, 10):  # back in the segment on day 0, day 3 and day 10
            clock.move_to(T0 + dt.timedelta(days=day))
            _return(person)
            tick(c)
            drain(run)
            _leave(person)
            tick(c)
    assert Journey.objects.filter(campaign=c, contact=person).count() == expected
    assert len(subjects_of(person)) == expected
    # Every entry has its own deliveries: (run, contact, channel, step) stays unique.
    assert sorted(Delivery.objects.filter(contact=person).values_list("step", flat=True)) == \
        [1000 * n + 1 for n in range(expected)]


def test_a_contact_still_in_the_segment_does_not_enter_again(scoped):
    person = contact(scoped, 1)
    c = journey_campaign(scoped, frequency=EntryFrequency.EVERY_TIME)
    single_send(c)
    with time_machine.travel(T0, tick=False) as clock:
        launch(c)
        for _ in range(4):
            tick(c)
            clock.shift(dt.timedelta(days=1))
    assert Journey.objects.filter(campaign=c, contact=person).count() == 1


def test_a_contact_saved_into_the_segment_is_entered_by_the_change_check(scoped):
    c = journey_campaign(scoped)
    single_send(c)
    with time_machine.travel(T0, tick=False):
        launch(c)
        tick(c)
        person = contact(scoped, 1, city="Mumbai")
        Contact.objects.filter(pk=person.pk).update(city="Pune")
        assert triggers.contact_changed(contact_id=person.pk, tenant_id=scoped.pk) == 1
        assert triggers.contact_changed(contact_id=person.pk, tenant_id=scoped.pk) == 0


# --- date triggers ------------------------------------------------------------------------------

def test_a_birthday_enters_the_contact_at_nine_local_time_once(scoped):
    ny = contact(scoped, 1, timezone="America/New_York", attributes={"birthday": "1990-11-24"})
    india = contact(scoped, 2, attributes={"birthday": "1985-11-24"})
    contact(scoped, 3, attributes={"birthday": "not a date"})
    contact(scoped, 4, attributes={"birthday": "1985-05-01"})
    c = journey_campaign(scoped, kind=TriggerKind.DATE_ATTRIBUTE, date_attribute="birthday",
                         time_of_day=dt.time(9, 0), frequency=EntryFrequency.EVERY_TIME)
    single_send(c, "Happy birthday")
    with time_machine.travel(dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC), tick=False) as clock:
        launch(c)
        tick(c)  # 24 Nov 01:30 in India (too early), 23 Nov in New York
        assert not Journey.objects.exists()
        clock.move_to(dt.datetime(2026, 11, 24, 3, 45, tzinfo=dt.UTC))  # 09:15 IST, 22:45 EST on the 23rd
        tick(c)
        assert list(Journey.objects.values_list("contact_id", flat=True)) == [india.pk]
        clock.move_to(dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC))  # 09:05 EST
        tick(c)
        tick(c)
    assert set(Journey.objects.values_list("contact_id", flat=True)) == {india.pk, ny.pk}
    assert Journey.objects.count() == 2


def test_an_anniversary_offset_and_the_creation_date_work_too(scoped):
    person = contact(scoped, 1)
    Contact.objects.filter(pk=person.pk).update(created_at=dt.datetime(2024, 11, 27, 6, 0, tzinfo=dt.UTC))
    c = journey_campaign(scoped, kind=TriggerKind.DATE_ATTRIBUTE, date_attribute="created", days_offset=-3,
                         time_of_day=dt.time(10, 0))
    single_send(c, "Three days to your anniversary")
    with time_machine.travel(dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC), tick=False):  # 10:30 IST on the 24th
        launch(c)
        tick(c)
    assert Journey.objects.filter(contact=person).count() == 1


# --- pause, resume, cancel, opt-out -------------------------------------------------------------

def test_pause_holds_everyone_resume_continues_and_cancel_exits_everyone(scoped):
    people = [contact(scoped, n) for n in range(3)]
    c = journey_campaign(scoped)
    steps = branching(c)
    with time_machine.travel(T0, tick=False) as clock:
        run = launch(c)
        tick(c)
        drain(run)
        services.campaign_pause(campaign=Campaign.objects.get(pk=c.pk))
        clock.shift(dt.timedelta(days=3))
        assert engine.journeys_advance(campaign_id=c.pk).moved == 0
        assert set(Journey.objects.values_list("step_id", flat=True)) == {steps["wait"].pk}
        services.campaign_resume(campaign=Campaign.objects.get(pk=c.pk))
        run.refresh_from_db()
        assert run.status == RunStatus.SENDING
        tick(c)
        drain(run)
        assert [subjects_of(p) for p in people] == [["Welcome", "Did you miss us"]] * 3

    other = contact(scoped, 9)
    Journey.objects.filter(contact=other).delete()
    with time_machine.travel(T0 + dt.timedelta(days=5), tick=False):
        _return(other)
        tick(c)  # `other` enters and sits in the wait step
        assert Journey.objects.get(contact=other).state == JourneyState.WAITING
        services.campaign_cancel(campaign=Campaign.objects.get(pk=c.pk))
        assert engine.journeys_exit_finished() == 1
    gone = Journey.objects.get(contact=other)
    assert (gone.state, gone.exit_reason) == (JourneyState.EXITED, ExitReason.CANCELLED)


def test_a_contact_who_opts_out_mid_journey_leaves_it(scoped):
    stays, leaves = contact(scoped, 1), contact(scoped, 2)
    c = journey_campaign(scoped)
    steps = branching(c)
    with time_machine.travel(T0, tick=False) as clock:
        run = launch(c)
        tick(c)
        drain(run)
        Contact.objects.filter(pk=leaves.pk).update(consent_email=OUT)
        clock.shift(dt.timedelta(days=2, minutes=1))
        tick(c)
        drain(run)
    assert subjects_of(leaves) == ["Welcome"]
    assert subjects_of(stays) == ["Welcome", "Did you miss us"]
    left = Journey.objects.get(contact=leaves)
    assert (left.state, left.exit_reason, left.step_id) == (JourneyState.EXITED, ExitReason.OPTED_OUT, steps["c"].pk)


def test_an_unreachable_contact_gets_a_skipped_delivery_and_goes_on(scoped):
    person = contact(scoped, 1, email="")
    c = journey_campaign(scoped)
    single_send(c)
    with time_machine.travel(T0, tick=False):
        launch(c)
        tick(c)
    d = Delivery.objects.get(contact=person)
    assert (d.status, d.skip_reason) == (DeliveryStatus.SKIPPED, "no_address")
    assert Journey.objects.get(contact=person).state == JourneyState.COMPLETED


# --- idempotence --------------------------------------------------------------------------------

def test_a_retried_tick_moves_nobody_twice(scoped):
    for n in range(5):
        contact(scoped, n)
    c = journey_campaign(scoped)
    branching(c)
    with time_machine.travel(T0, tick=False):
        launch(c)
        tick(c)
        before = list(Journey.objects.order_by("id").values_list("id", "step_id", "state", "next_due_at"))
        assert engine.journeys_advance(campaign_id=c.pk).moved == 0
        assert list(Journey.objects.order_by("id").values_list("id", "step_id", "state", "next_due_at")) == before
    assert Delivery.objects.filter(campaign=c).count() == 5


def test_two_concurrent_ticks_advance_each_journey_exactly_once(scoped):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    for n in range(300):
        contact(scoped, n)
    c = journey_campaign(scoped)
    first = single_send(c, "One")
    second = email_step(c, "Two")
    with time_machine.travel(T0, tick=False):
        launch(c)
        triggers.campaign_triggers_check(campaign=Campaign.objects.get(pk=c.pk))
        assert Journey.objects.filter(campaign=c, step=first).count() == 300
        outcomes = []
        barrier = threading.Barrier(3)

        def worker():
            try:
                with tenant_scope(scoped):
                    barrier.wait()
                    outcomes.append(engine.journeys_advance(campaign_id=c.pk))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert sum(o.sent for o in outcomes) == 600  # 300 contacts x 2 send steps, no more
    assert Delivery.objects.filter(campaign=c, step=first.number).count() == 300
    assert Delivery.objects.filter(campaign=c, step=second.number).count() == 300
    assert WorkflowStep.objects.get(pk=second.pk).entered_count == 300
    assert Journey.objects.filter(campaign=c, state=JourneyState.COMPLETED).count() == 300


# --- launching ----------------------------------------------------------------------------------

def test_a_journey_campaign_with_problems_is_not_launched_and_says_why(scoped):
    c = Campaign.objects.create(tenant=scoped, name="Empty", type=CampaignType.TRIGGERED)
    problems = journey_readiness_errors(c)
    assert "Choose what starts the campaign (a segment, an event or a date)." in problems
    assert "Add at least one step." in problems
    with pytest.raises(services.CampaignNotReady):
        journey_campaign_launch(campaign=c)
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT


def test_a_scheduled_drip_campaign_opens_its_run_without_a_broadcast_fan_out(scoped):
    from campaigns.engine import scheduler
    from campaigns.tasks import run_fan_out_task

    contact(scoped, 1)
    c = journey_campaign(scoped)
    single_send(c)
    Campaign.objects.filter(pk=c.pk).update(send_mode="scheduled", scheduled_at=T0 + dt.timedelta(hours=1))
    with time_machine.travel(T0, tick=False) as clock:
        journey_campaign_launch(campaign=Campaign.objects.get(pk=c.pk))
        clock.shift(dt.timedelta(hours=1, seconds=5))
        assert scheduler.campaigns_start_due() == 1
        run = CampaignRun.objects.get(campaign=c)
        run_fan_out_task(scoped.pk, str(run.pk))  # what the worker runs for the new run
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING and not run.deliveries.exists()


# --- statistics and the beat plumbing -----------------------------------------------------------

def test_per_step_statistics_count_entries_sends_engagement_and_endings(scoped):
    from campaigns.journeys.stats import workflow_stats

    reader = contact(scoped, 1)
    contact(scoped, 2)
    c = journey_campaign(scoped)
    steps = branching(c)
    with time_machine.travel(T0, tick=False) as clock:
        run = launch(c)
        tick(c)
        drain(run)
        Delivery.objects.filter(contact=reader, step=steps["a"].number).update(
            read_at=T0, delivered_at=T0, status=DeliveryStatus.READ)
        clock.shift(dt.timedelta(days=2, minutes=1))
        tick(c)
    ordered = list(WorkflowStep.objects.filter(campaign=c).order_by("position"))
    stats = workflow_stats(c, ordered)
    a, b, cc, done = (stats[steps[k].pk] for k in ("a", "b", "c", "exit"))
    assert (a.entered, a.sent, a.delivered, a.engaged, a.engaged_rate) == (2, 2, 1, 1, 50)
    assert (b.entered, cc.entered) == (1, 1)
    assert (done.entered, done.ended, cc.ended) == (2, 2, 0)  # B jumps to the exit, C is just above it
    assert stats[steps["wait"].pk].entered == 2


def test_a_conversion_counts_on_the_step_whose_message_led_to_it(scoped):
    from analytics.models import Conversion
    from campaigns.journeys.stats import workflow_stats

    buyer = contact(scoped, 1)
    contact(scoped, 2)
    c = journey_campaign(scoped)
    steps = branching(c)
    with time_machine.travel(T0, tick=False):
        run = launch(c)
        tick(c)
        drain(run)
    sent = Delivery.objects.get(contact=buyer, step=steps["a"].number)
    for _ in range(2):  # two purchases from one message are one converted delivery
        Conversion.objects.create(tenant=scoped, delivery=sent, contact=buyer, campaign=c, event="purchase",
                                  occurred_at=T0)
    stats = workflow_stats(c, list(WorkflowStep.objects.filter(campaign=c).order_by("position")))
    assert stats[steps["a"].pk].converted == 1
    assert stats[steps["b"].pk].converted == 0


def test_the_beat_tick_finds_due_campaigns_but_not_paused_ones(scoped):
    contact(scoped, 1)
    c = journey_campaign(scoped)
    branching(c)
    with time_machine.travel(T0, tick=False) as clock:
        launch(c)
        triggers.campaign_triggers_check(campaign=Campaign.objects.get(pk=c.pk))
        assert engine.campaigns_with_due_journeys() == [(scoped.pk, str(c.pk))]
        assert (scoped.pk, str(c.pk)) in triggers.campaigns_to_check()
        engine.journeys_advance(campaign_id=c.pk)
        assert engine.campaigns_with_due_journeys() == []  # waiting two days
        clock.shift(dt.timedelta(days=3))
        services.campaign_pause(campaign=Campaign.objects.get(pk=c.pk))
        assert engine.campaigns_with_due_journeys() == []
        assert triggers.campaigns_to_check() == []


def test_the_common_launch_service_starts_a_drip_campaign_through_its_journey(tenant_a):
    # The wizard's Send now calls campaigns.services.campaign_launch for every campaign type.
    from campaigns.models import Campaign, CampaignType
    from campaigns.services import CampaignNotReady, campaign_launch

    with tenant_scope(tenant_a):
        drip = Campaign.objects.create(tenant=tenant_a, name="Welcome series", type=CampaignType.DRIP)
        with pytest.raises(CampaignNotReady) as refused:
            campaign_launch(campaign=drip)
    # Refused for journey reasons (no trigger / steps), not for broadcast content or audience.
    assert not any("content is incomplete" in p for p in refused.value.problems)
