"""Real Celery workers against PostgreSQL, Redis and the fake Twilio API: 10,000 SMS recipients,
workers killed with SIGKILL three times mid-campaign and restarted. Every delivery id reaches the
provider; none is missing; repeats stay within what was in flight at each kill. Also: pause at
about half and resume, and two dispatchers started at once on one run.

Needs PostgreSQL and Redis (CI has both; without them these tests are skipped locally).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.engine.dispatch import BATCH_SIZE
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    DeliveryStatus,
    RunStatus,
)
from campaigns.tasks import run_dispatch_task, scheduler_tick_task
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.workers import CeleryProcesses, worker_database_url

ROOT = Path(__file__).resolve().parents[2]
SID = "AC" + "2" * 32
RECIPIENTS = 10_000
WORKERS = 2
CONCURRENCY = 2

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"],
                       reason="needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)"),
]


def start_workers(fake_url: str, log_dir: Path) -> CeleryProcesses:
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": settings.REDIS_URL,
           "TWILIO_API_BASE": fake_url + "/twilio", "ENGINE_DISPATCH_ACTIVITY_TTL": "3", "LOG_LEVEL": "WARNING"}
    return CeleryProcesses(env, log_dir, "crash")


@pytest.fixture
def workers(fake_providers, tmp_path, settings):
    from config.celery import app

    settings.ENGINE_CLAIM_TIMEOUT_SECONDS = 6  # the reaper in this process (our "beat")
    app.control.purge()  # messages other tests left in the broker
    pool = start_workers(fake_providers.url, tmp_path)
    yield pool
    pool.stop()
    app.control.purge()


@pytest.fixture
def big_campaign(tenant_a, fakes):
    from django.core.cache import cache

    cache.clear()
    fakes.configure("twilio", message_statuses=[])  # no callbacks: there is no web server here
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Twilio", channel="sms", provider="twilio_sms",
                               settings={"account_sid": SID, "from_number": "+15005550006"},
                               rate_per_second=5000, unit_cost=Decimal("0.0079"), is_default=True)
        config.set_secrets({"auth_token": "token-crash-test"})
        config.save()
        Contact.objects.bulk_create(
            [Contact(tenant=tenant_a, first_name=f"P{n}", phone=f"+9198{n:08d}", consent_sms=ConsentState.OPTED_IN)
             for n in range(RECIPIENTS)], batch_size=2000)
        campaign = Campaign.objects.create(
            tenant=tenant_a, name="Crash test", channels=["sms"], audience_everyone=True,
            calling_hours_start=dt.time(0), calling_hours_end=dt.time(23, 59, 59),
        )
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="sms",
                                       data={"text": "Hi {{ first_name }}. Reply STOP to opt out"})
        yield campaign


def sent_ids(fakes) -> Counter:
    calls = fakes.received("twilio", kind="message")
    return Counter(call["params"]["StatusCallback"].rsplit("?d=", 1)[1] for call in calls)


def run_of(campaign) -> CampaignRun | None:
    return CampaignRun.objects.filter(campaign=campaign, is_test=False).first()


def wait_until(predicate, *, timeout: float, tick: bool = True, what: str = ""):
    """Poll, acting as beat (scheduler tick) meanwhile, until predicate() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            scheduler_tick_task()
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkilled_workers_lose_nothing_and_repeat_only_what_was_in_flight(big_campaign, workers, fakes, caplog):
    workers.start_workers(WORKERS, concurrency=CONCURRENCY)
    campaign = services.campaign_launch(campaign=big_campaign)
    wait_until(lambda: (r := run_of(campaign)) and r.status == RunStatus.SENDING, timeout=60, what="fan-out")

    kills = 0
    for fraction in (0.2, 0.45, 0.7):
        wait_until(lambda f=fraction: sum(sent_ids(fakes).values()) >= f * RECIPIENTS, timeout=120,
                   what=f"{fraction:.0%} sent")
        workers.kill_one_worker()
        kills += 1
        workers.start_workers(concurrency=CONCURRENCY)

    wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED, timeout=240,
               what="campaign completed")
    seen = sent_ids(fakes)
    run = run_of(campaign)
    expected = {str(u) for u in run.deliveries.values_list("uuid", flat=True)}
    assert len(expected) == RECIPIENTS
    assert set(seen) == expected  # every delivery reached the provider, nothing else did
    repeats = sum(n - 1 for n in seen.values())
    in_flight_per_kill = BATCH_SIZE * CONCURRENCY
    assert repeats <= in_flight_per_kill * kills, f"{repeats} repeated sends after {kills} kills"
    assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == RECIPIENTS
    if repeats:
        assert any("stale claims" in r.getMessage() for r in caplog.records)  # each repeat was logged


def test_pause_at_half_then_resume_and_two_dispatchers_at_once_send_each_message_once(big_campaign, workers, fakes):
    workers.start_workers(concurrency=CONCURRENCY)
    campaign = services.campaign_launch(campaign=big_campaign)
    wait_until(lambda: (r := run_of(campaign)) and r.status == RunStatus.SENDING, timeout=60, what="fan-out")
    wait_until(lambda: sum(sent_ids(fakes).values()) >= RECIPIENTS / 2, timeout=120, tick=False, what="half sent")
    services.campaign_pause(campaign=Campaign.objects.get(pk=campaign.pk))
    time.sleep(3)  # in-flight batches finish
    paused_at = sum(sent_ids(fakes).values())
    time.sleep(2)
    assert sum(sent_ids(fakes).values()) == paused_at < RECIPIENTS  # nothing more while paused

    services.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk))
    run = run_of(campaign)
    for _ in range(2):  # a second dispatcher on the same run and channel, at once
        run_dispatch_task.delay(run.tenant_id, str(run.pk), "sms")
    workers.start_workers(concurrency=CONCURRENCY)
    wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED, timeout=240,
               what="campaign completed")
    seen = sent_ids(fakes)
    assert len(seen) == RECIPIENTS and max(seen.values()) == 1  # exactly 10,000 sends
