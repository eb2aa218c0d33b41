"""The delivery engine end to end on the real database: fan-out, dispatch through the sandbox
provider, calling hours, budget, pause, forward-only statuses, the scheduler and recurrence."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from audiences.models import ConsentState, Contact, ContactList, PushSubscription, Suppression
from campaigns import services
from campaigns.engine import counters, scheduler
from campaigns.engine.dispatch import deliveries_claim, next_allowed_time, run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.engine.status import status_events_apply
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    ChannelBudget,
    DeliveryStatus,
    Recurrence,
    RunChannelStats,
    RunStatus,
    SendMode,
)
from channels.base import Stage, StatusEvent
from channels.models import ChannelConfig, OutboxMessage
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

IN = ConsentState.OPTED_IN
OUT = ConsentState.OPTED_OUT


@pytest.fixture(autouse=True)
def _redis_clean(settings):
    # Rate-limit buckets and dispatch markers must not leak between tests.
    from django.core.cache import cache

    cache.clear()


def sandbox(tenant, channel, rate=1000.0, cost="0.01"):
    config = ChannelConfig(tenant=tenant, name=f"{channel} sandbox", channel=channel, provider="sandbox",
                           settings={}, rate_per_second=rate, unit_cost=Decimal(cost), is_default=True)
    config.set_secrets({})
    config.save()
    return config


def contact(tenant, n, **kw):
    defaults = {"first_name": f"C{n}", "email": f"c{n}@example.com", "phone": f"+9198000{n:05d}",
                "consent_email": IN, "consent_sms": IN}
    defaults.update(kw)
    return Contact.objects.create(tenant=tenant, **defaults)


def campaign(tenant, channels=("email", "sms"), **kw) -> Campaign:
    kw.setdefault("audience_everyone", True)
    c = Campaign.objects.create(tenant=tenant, name="Diwali sale", channels=list(channels), **kw)
    data = {"email": {"subject": "Hi {{ first_name }}", "html": "<p>Sale in {{ city | default: \"your city\" }}</p>"},
            "sms": {"text": "Hi {{ first_name }}, 20% off. Reply STOP to opt out"}}
    for ch in channels:
        CampaignContent.objects.create(tenant=tenant, campaign=c, channel=ch, data=data[ch])
    return c


def start(c: Campaign) -> CampaignRun:
    c = services.campaign_launch(campaign=c)
    run = CampaignRun.objects.get(campaign=c)
    run_fan_out(run_id=run.pk)
    run.refresh_from_db()
    return run


def drain(run: CampaignRun) -> None:
    for channel in run.campaign.channels:
        while run_dispatch(run_id=run.pk, channel=channel, time_budget=30) == "continue":
            pass


@pytest.fixture
def scoped(tenant_a):
    with tenant_scope(tenant_a):
        sandbox(tenant_a, "email")
        sandbox(tenant_a, "sms")
        yield tenant_a


# --- fan-out ------------------------------------------------------------------------------------

def test_fan_out_skips_each_unreachable_contact_with_its_reason(scoped):
    t = scoped
    ok = contact(t, 1)
    contact(t, 2, email="", phone="")                                  # no address
    contact(t, 3, consent_email=OUT, consent_sms=OUT)                  # opted out
    contact(t, 4, consent_sms=ConsentState.UNKNOWN)                    # SMS needs an opt-in
    contact(t, 5, email="blocked@example.com")
    Suppression.objects.create(tenant=t, kind="email", value="blocked@example.com")
    run = start(campaign(t))

    rows = {(d.contact.first_name, d.channel): (d.status, d.skip_reason) for d in run.deliveries.select_related("contact")}
    assert rows[(ok.first_name, "email")] == ("pending", "")
    assert rows[("C2", "email")] == ("skipped", "no_address")
    assert rows[("C3", "sms")] == ("skipped", "opted_out")
    assert rows[("C4", "sms")] == ("skipped", "no_opt_in")
    assert rows[("C4", "email")] == ("pending", "")
    assert rows[("C5", "email")] == ("skipped", "suppressed")
    stats = {s.channel: s for s in RunChannelStats.objects.filter(run=run)}
    assert (stats["email"].targeted, stats["email"].skipped) == (5, 3)
    assert run.status == RunStatus.SENDING and run.target_count == 10


def test_an_address_shared_by_two_contacts_is_targeted_once(scoped):
    # Emails and phones are unique per tenant; a Telegram group chat can be shared.
    sandbox(scoped, "telegram")
    contact(scoped, 1, telegram_chat_id="-100200300")
    contact(scoped, 2, telegram_chat_id="-100200300")
    c = Campaign.objects.create(tenant=scoped, name="Group", channels=["telegram"], audience_everyone=True)
    CampaignContent.objects.create(tenant=scoped, campaign=c, channel="telegram", data={"text": "Hello group"})
    run = start(c)
    reasons = sorted(run.deliveries.values_list("skip_reason", flat=True))
    assert reasons == ["", "duplicate_address"]


def test_fan_out_again_adds_nothing(scoped):
    for n in range(5):
        contact(scoped, n)
    run = start(campaign(scoped))
    before = run.deliveries.count()
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.PENDING)
    run_fan_out(run_id=run.pk)
    assert run.deliveries.count() == before == 10


def test_the_audience_is_the_union_of_lists_and_segments_and_nobody_else(scoped):
    inside = contact(scoped, 1)
    contact(scoped, 2)
    vip = ContactList.objects.create(tenant=scoped, name="VIP")
    vip.contacts.add(inside)
    c = campaign(scoped, channels=("email",), audience_everyone=False)
    c.lists.add(vip)
    run = start(c)
    assert list(run.deliveries.values_list("contact_id", flat=True)) == [inside.pk]


def test_push_deliveries_go_to_the_contacts_latest_subscription(scoped):
    sandbox(scoped, "push")
    c1 = contact(scoped, 1)
    PushSubscription.objects.create(tenant=scoped, contact=c1, endpoint="https://push.example/old", p256dh="k", auth="a")
    PushSubscription.objects.create(tenant=scoped, contact=c1, endpoint="https://push.example/new", p256dh="k", auth="a")
    contact(scoped, 2)
    c = Campaign.objects.create(tenant=scoped, name="Push", channels=["push"], audience_everyone=True)
    CampaignContent.objects.create(tenant=scoped, campaign=c, channel="push", data={"title": "Hello"})
    run = start(c)
    rows = dict(run.deliveries.values_list("contact_id", "address"))
    assert rows[c1.pk] == "https://push.example/new"
    assert run.deliveries.get(address="").skip_reason == "no_address"


# --- dispatch -----------------------------------------------------------------------------------

def test_a_campaign_is_sent_once_to_everyone_reachable_and_completes(scoped):
    for n in range(30):
        contact(scoped, n, city="Pune")
    c = campaign(scoped)
    with time_machine.travel(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)):  # 11:30 in Kolkata
        run = start(c)
        drain(run)
    run.refresh_from_db()
    c.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and c.status == CampaignStatus.COMPLETED
    assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == 60
    assert OutboxMessage.objects.filter(tenant=scoped).count() == 60
    email = OutboxMessage.objects.filter(channel="email").first()
    assert email.subject.startswith("Hi C") and "Sale in Pune" in email.html
    assert counters.reconcile(run) == {}


def test_two_dispatchers_never_claim_the_same_delivery(scoped):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    for n in range(200):
        contact(scoped, n)
    run = start(campaign(scoped, channels=("email",)))
    claimed: list[list[int]] = []

    def claim():
        with tenant_scope(scoped):
            got = []
            while ids := deliveries_claim(run=run, channel="email", limit=7, now=timezone.now()):
                got.extend(ids)
            claimed.append(got)
        connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    flat = [pk for got in claimed for pk in got]
    assert len(flat) == len(set(flat)) == 200


def test_pausing_stops_dispatch_and_resume_finishes_the_rest(scoped):
    for n in range(20):
        contact(scoped, n)
    c = campaign(scoped, channels=("email",))
    with time_machine.travel(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)):
        run = start(c)
        services.campaign_pause(campaign=c)
        assert run_dispatch(run_id=run.pk, channel="email") == "stopped"
        assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == 0
        services.campaign_resume(campaign=Campaign.objects.get(pk=c.pk))
        drain(run)
    assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == 20
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.COMPLETED


def test_cancel_turns_pending_deliveries_into_cancelled(scoped):
    for n in range(5):
        contact(scoped, n)
    c = campaign(scoped, channels=("email",))
    run = start(c)
    services.campaign_cancel(campaign=c)
    assert run.deliveries.filter(status=DeliveryStatus.CANCELLED).count() == 5
    assert run_dispatch(run_id=run.pk, channel="email") == "stopped"
    assert RunChannelStats.objects.get(run=run).cancelled == 5


def test_when_the_budget_is_spent_the_rest_is_skipped_for_budget(scoped):
    for n in range(10):
        contact(scoped, n)
    c = campaign(scoped, channels=("email",))
    ChannelBudget.objects.create(tenant=scoped, campaign=c, channel="email", allocated=Decimal("0.04"))
    run = start(c)
    drain(run)
    assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == 4
    assert run.deliveries.filter(status=DeliveryStatus.SKIPPED, skip_reason="budget").count() == 6
    assert ChannelBudget.objects.get(campaign=c).spent == Decimal("0.04")
    assert counters.reconcile(run) == {}


# --- calling hours ------------------------------------------------------------------------------

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
WINDOW = (dt.time(8), dt.time(21))


def test_20_59_59_local_is_inside_the_window_and_21_00_waits_until_8_next_morning():
    inside = dt.datetime(2026, 11, 23, 20, 59, 59, tzinfo=KOLKATA)
    assert next_allowed_time(inside, KOLKATA, WINDOW) is None
    closed = dt.datetime(2026, 11, 23, 21, 0, 0, tzinfo=KOLKATA)
    assert next_allowed_time(closed, KOLKATA, WINDOW) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=KOLKATA)
    early = dt.datetime(2026, 11, 23, 7, 59, tzinfo=KOLKATA)
    assert next_allowed_time(early, KOLKATA, WINDOW) == dt.datetime(2026, 11, 23, 8, 0, tzinfo=KOLKATA)


def test_the_window_opens_at_8_local_on_a_daylight_saving_morning():
    # 2026-03-08: New York springs forward at 02:00. 23:00 the night before -> 08:00 EDT (12:00 UTC).
    night = dt.datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)
    opening = next_allowed_time(night, NEW_YORK, WINDOW)
    assert opening == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)


def test_an_sms_due_after_21_00_recipient_time_waits_for_the_morning(scoped):
    contact(scoped, 1)                                           # Kolkata (tenant's zone)
    contact(scoped, 2, timezone="America/New_York")
    c = campaign(scoped, channels=("sms",))
    # 16:00 UTC = 21:30 in Kolkata, 11:00 in New York
    with time_machine.travel(dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)):
        run = start(c)
        run_dispatch(run_id=run.pk, channel="sms")
    rows = {d.contact.first_name: d for d in run.deliveries.select_related("contact")}
    assert rows["C2"].status == DeliveryStatus.SENT
    assert rows["C1"].status == DeliveryStatus.PENDING
    assert rows["C1"].not_before == dt.datetime(2026, 11, 24, 8, 0, tzinfo=KOLKATA)
    assert rows["C1"].attempts == 0


# --- statuses -----------------------------------------------------------------------------------

def test_status_events_only_move_forward_and_keep_each_stage_time(scoped):
    contact(scoped, 1)
    run = start(campaign(scoped, channels=("email",)))
    drain(run)
    d = run.deliveries.get()
    config = ChannelConfig.objects.get(channel="email")
    t1 = timezone.now()
    read = StatusEvent(stage=Stage.READ, message_id=str(d.uuid), occurred_at=t1)
    late_delivered = StatusEvent(stage=Stage.DELIVERED, message_id=str(d.uuid), occurred_at=t1 + dt.timedelta(seconds=5))
    status_events_apply(config=config, events=[read])
    status_events_apply(config=config, events=[late_delivered])
    d.refresh_from_db()
    assert d.status == DeliveryStatus.READ
    assert d.read_at == t1 and d.delivered_at == t1  # reading implies delivery, at the read time
    stats = RunChannelStats.objects.get(run=run)
    assert (stats.sent, stats.delivered, stats.read) == (1, 1, 1)
    assert counters.reconcile(run) == {}


def test_a_delivery_receipt_that_overtakes_the_write_back_is_kept_and_counted_once(scoped, monkeypatch):
    from channels.providers.sandbox import Sandbox

    contact(scoped, 1)
    contact(scoped, 2)
    run = start(campaign(scoped, channels=("email",)))
    config = ChannelConfig.objects.get(channel="email")
    send = Sandbox.send

    def send_and_receipt_first(self, messages):
        results = send(self, messages)
        # The provider's "delivered" receipt for the first message lands (on another connection)
        # before dispatch has written the batch's outcome back.
        def receipt():
            with tenant_scope(scoped):  # what the webhook view sets up
                status_events_apply(config=config, events=[
                    StatusEvent(stage=Stage.DELIVERED, message_id=messages[0].id, occurred_at=timezone.now())])
            connections.close_all()
        thread = threading.Thread(target=receipt)
        thread.start()
        thread.join()
        return results

    monkeypatch.setattr(Sandbox, "send", send_and_receipt_first)
    drain(run)
    first, second = run.deliveries.order_by("id")
    assert first.status == DeliveryStatus.DELIVERED  # the receipt is not overwritten with "sent"
    assert first.provider_message_id.startswith("sbx_") and first.cost == Decimal("0.01")  # what only dispatch knew
    assert second.status == DeliveryStatus.SENT
    stats = RunChannelStats.objects.get(run=run)
    assert (stats.sent, stats.delivered) == (2, 1)
    assert counters.reconcile(run) == {}


def test_a_bounce_after_acceptance_fails_the_delivery_and_moves_the_counters(scoped):
    contact(scoped, 1)
    run = start(campaign(scoped, channels=("email",)))
    drain(run)
    d = run.deliveries.get()
    config = ChannelConfig.objects.get(channel="email")
    unmatched = status_events_apply(config=config, events=[
        StatusEvent(stage=Stage.FAILED, provider_message_id=d.provider_message_id, error_code="550",
                    error_message="Mailbox unavailable"),
        StatusEvent(stage=Stage.DELIVERED, provider_message_id="unknown-id"),
    ])
    d.refresh_from_db()
    assert (d.status, d.error_code) == (DeliveryStatus.FAILED, "550")
    assert [e.provider_message_id for e in unmatched] == ["unknown-id"]
    stats = RunChannelStats.objects.get(run=run)
    assert (stats.sent, stats.failed) == (0, 1)


# --- scheduler ----------------------------------------------------------------------------------

def test_two_beats_racing_start_a_due_campaign_exactly_once(scoped):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    contact(scoped, 1)
    when = timezone.now() + dt.timedelta(hours=1)
    c = campaign(scoped, channels=("email",), send_mode=SendMode.SCHEDULED, scheduled_at=when)
    services.campaign_launch(campaign=c)
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.SCHEDULED
    started = []

    def beat():
        started.append(scheduler.campaigns_start_due(now=when + dt.timedelta(seconds=5)))
        connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(started) == 1
    assert CampaignRun.objects.filter(campaign=c).count() == 1
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.ACTIVE


def test_a_daily_campaign_stays_at_9_local_across_daylight_saving_and_stops_at_its_end_date(scoped):
    c = Campaign(tenant=scoped, name="Daily", recurrence=Recurrence.DAILY, schedule_timezone="America/New_York",
                 scheduled_at=dt.datetime(2026, 3, 6, 9, 0, tzinfo=NEW_YORK), recurrence_end=dt.date(2026, 3, 9))
    after_first = dt.datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK)
    nxt = scheduler.next_occurrence(c, after_first)
    assert nxt == dt.datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK)
    assert nxt.astimezone(dt.UTC).hour == 13  # EDT now, was 14:00 UTC under EST
    assert scheduler.next_occurrence(c, dt.datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)) is None


def test_a_finished_run_of_a_recurring_campaign_schedules_the_next_occurrence(scoped):
    contact(scoped, 1)
    first = (timezone.now() + dt.timedelta(minutes=1)).replace(microsecond=0)
    c = campaign(scoped, channels=("email",), send_mode=SendMode.SCHEDULED, scheduled_at=first,
                 recurrence=Recurrence.WEEKLY)
    services.campaign_launch(campaign=c)
    with time_machine.travel(first + dt.timedelta(seconds=10)):
        scheduler.campaigns_start_due()
        run = CampaignRun.objects.get(campaign=c)
        run_fan_out(run_id=run.pk)
        drain(run)
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED
    assert c.next_run_at == first + dt.timedelta(days=7)


def test_the_reaper_returns_stale_claims_to_pending(scoped):
    contact(scoped, 1)
    run = start(campaign(scoped, channels=("email",)))
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    run.deliveries.update(status=DeliveryStatus.SENDING, claimed_at=long_ago)
    assert scheduler.deliveries_reap() == 1
    assert run.deliveries.get().status == DeliveryStatus.PENDING


# --- test sends ---------------------------------------------------------------------------------

def test_a_test_send_goes_out_now_and_stays_out_of_the_statistics(scoped):
    c = campaign(scoped, channels=("email",))
    d = services.campaign_send_test(campaign=c, channel="email", address="me@example.com")
    assert d.status == DeliveryStatus.SENT and d.is_test
    assert OutboxMessage.objects.get().to == "me@example.com"
    assert not RunChannelStats.objects.exists()


def test_a_test_send_to_an_opted_out_contact_is_refused(scoped):
    c = campaign(scoped, channels=("email",))
    person = contact(scoped, 1, consent_email=OUT)
    with pytest.raises(services.TestSendRefused, match="opted out"):
        services.campaign_send_test(campaign=c, channel="email", contact=person)
    assert not OutboxMessage.objects.exists()


def test_a_broken_channel_configuration_fails_the_channel_with_its_reason(scoped):
    contact(scoped, 1)
    run = start(campaign(scoped, channels=("email",)))
    ChannelConfig.objects.filter(channel="email").update(provider="no_such_provider")
    assert run_dispatch(run_id=run.pk, channel="email") == "done"
    d = run.deliveries.get()
    assert (d.status, d.error_code) == (DeliveryStatus.FAILED, "configuration")
    assert "no_such_provider" in d.error_message
    assert Campaign.objects.get(pk=run.campaign_id).status == CampaignStatus.FAILED


def test_the_scheduler_tick_runs_outside_any_tenant_scope_and_wakes_due_dispatch(tenant_a, settings):
    # Beat calls the tick with no tenant scope active: every cross-tenant query must allow that.
    from campaigns.engine.scheduler import runs_needing_dispatch
    from campaigns.tasks import scheduler_tick_task

    with tenant_scope(tenant_a):
        sandbox(tenant_a, "email")
        contact(tenant_a, 1)
        run = start(campaign(tenant_a, channels=("email",)))
    assert runs_needing_dispatch() == [(tenant_a.pk, str(run.pk), "email")]
    assert scheduler_tick_task()["woken"] == 1
