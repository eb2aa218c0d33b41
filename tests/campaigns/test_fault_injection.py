"""Fault injection with the whole stack running: Celery workers and a real beat process on a
Redis of the test's own (so it can be restarted), PostgreSQL, and the fake Twilio API. Each
scenario ends with the same check: every delivery id was accepted by the provider, none is
missing, and repeats stay within what was in flight when the fault hit.

Needs PostgreSQL and Redis (CI has both; without them these tests are skipped locally).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from audiences.models import ConsentState, Contact
from campaigns import lifecycle, services
from campaigns.engine.dispatch import BATCH_SIZE
from campaigns.engine.fanout import run_fan_out
from campaigns.lifecycle import Action
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignStatus,
    DeliveryStatus,
    SendMode,
)
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.workers import CeleryProcesses, worker_database_url

ROOT = Path(__file__).resolve().parents[2]
SID = "AC" + "3" * 32
RECIPIENTS = 2_000
REDIS_SERVER = shutil.which("redis-server")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"]
                       or not REDIS_SERVER, reason="needs PostgreSQL, Redis and redis-server"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, without persistence, that can be restarted."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.tmp, self.proc = _free_port(), tmp, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def start_stack(redis_url: str, fake_url: str, tmp: Path, *, beats: int = 1) -> CeleryProcesses:
    """Two workers and `beats` beats (a second one is a deployment mistake the scheduler must
    survive), all on the private Redis and the test database."""
    env = {
        **os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": redis_url,
        "TWILIO_API_BASE": fake_url + "/twilio", "VAR_DIR": str(tmp / "var"),
        "ENGINE_TICK_SECONDS": "1", "ENGINE_DISPATCH_ACTIVITY_TTL": "3", "ENGINE_CLAIM_TIMEOUT_SECONDS": "8",
        "ENGINE_RETRY_BASE_SECONDS": "1", "LOG_LEVEL": os.environ.get("FAULT_TEST_LOG_LEVEL", "WARNING"),
    }
    processes = CeleryProcesses(env, tmp, "fault")
    processes.start_workers(2)
    for _ in range(beats):
        processes.start_beat()
    return processes


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(request, private_redis, fake_providers, tmp_path):
    (tmp_path / "var").mkdir()
    running = start_stack(private_redis.url, fake_providers.url, tmp_path, beats=getattr(request, "param", 1))
    yield running
    running.stop(graceful=False)


@pytest.fixture
def campaign(tenant_a, fakes):
    fakes.configure("twilio", message_statuses=[])  # no callbacks: no web server in these tests
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Twilio", channel="sms", provider="twilio_sms",
                               settings={"account_sid": SID, "from_number": "+15005550006"},
                               rate_per_second=2000, unit_cost=Decimal("0.0079"), is_default=True)
        config.set_secrets({"auth_token": "token-fault-test"})
        config.save()
        Contact.objects.bulk_create(
            [Contact(tenant=tenant_a, first_name=f"F{n}", phone=f"+9197{n:08d}", consent_sms=ConsentState.OPTED_IN)
             for n in range(RECIPIENTS)])
        campaign = Campaign.objects.create(
            tenant=tenant_a, name="Fault test", channels=["sms"], audience_everyone=True,
            calling_hours_start=dt.time(0), calling_hours_end=dt.time(23, 59, 59))
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="sms",
                                       data={"text": "Hi {{ first_name }}. Reply STOP to opt out"})
        yield campaign


def start(campaign) -> CampaignRun:
    """Launch without the test process's broker: the run is fanned out here and beat wakes dispatch."""
    lifecycle.transition(campaign, Action.SEND_NOW)
    run = CampaignRun.objects.create(tenant=campaign.tenant, campaign=campaign, occurrence_at=dt.datetime.now(dt.UTC))
    run_fan_out(run_id=run.pk)
    return run


def accepted(fakes) -> Counter:
    calls = fakes.received("twilio", kind="message")
    return Counter(c["params"]["StatusCallback"].rsplit("?d=", 1)[1] for c in calls if c.get("answered") == 201)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    from django.db.models import Count

    from campaigns.models import Delivery

    states = dict(Delivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    raise AssertionError(f"timed out waiting for {what}; deliveries by status: {states}")


def finished(campaign) -> bool:
    return Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED


def assert_all_sent_once_or_within(run, fakes, allowed_repeats: int) -> None:
    seen = accepted(fakes)
    expected = {str(u) for u in run.deliveries.values_list("uuid", flat=True)}
    assert set(seen) == expected, f"missing {len(expected - set(seen))}, unexpected {len(set(seen) - expected)}"
    repeats = sum(n - 1 for n in seen.values())
    assert repeats <= allowed_repeats, f"{repeats} repeated sends (allowed {allowed_repeats})"
    assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == RECIPIENTS


def test_a_storm_of_429s_and_5xx_delays_the_campaign_but_loses_and_repeats_nothing(campaign, stack, fakes):
    fakes.fault("twilio", status=429, count=150, retry_after=1)
    fakes.fault("twilio", status=503, count=150)
    run = start(campaign)
    wait_for(lambda: finished(campaign), 180, "campaign completed")
    assert_all_sent_once_or_within(run, fakes, allowed_repeats=0)  # refused requests are not sends
    retried = run.deliveries.filter(attempts__gt=1).count()
    assert retried >= 150  # the storm was felt, and ridden out


def test_a_latency_spike_slows_sending_without_loss(campaign, stack, fakes):
    fakes.fault("twilio", status=0, count=40, delay=1.5)  # 40 requests each answered 1.5 s late
    run = start(campaign)
    wait_for(lambda: finished(campaign), 180, "campaign completed")
    assert_all_sent_once_or_within(run, fakes, allowed_repeats=0)


def test_redis_restarted_mid_campaign_loses_nothing(campaign, stack, private_redis, fakes):
    run = start(campaign)
    wait_for(lambda: sum(accepted(fakes).values()) >= RECIPIENTS * 0.3, 120, "30% sent")
    private_redis.restart()  # broker queue, rate-limit buckets and dispatcher marks are all gone
    wait_for(lambda: finished(campaign), 180, "campaign completed")
    assert_all_sent_once_or_within(run, fakes, allowed_repeats=BATCH_SIZE * 4)


def test_postgresql_connections_dropped_mid_campaign_lose_nothing(campaign, stack, fakes):
    run = start(campaign)
    wait_for(lambda: sum(accepted(fakes).values()) >= RECIPIENTS * 0.3, 120, "30% sent")
    killed, deadline = 0, time.monotonic() + 10
    # Workers hold a connection while they work on a task: try until one is caught doing so.
    while not killed and time.monotonic() < deadline:
        with connection.cursor() as cursor:  # every worker and beat connection to the test database
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            killed = cursor.fetchone()[0]
        time.sleep(0 if killed else 0.02)
    assert killed >= 1
    wait_for(lambda: finished(campaign), 180, "campaign completed")
    assert_all_sent_once_or_within(run, fakes, allowed_repeats=BATCH_SIZE * 4)


@pytest.mark.parametrize("stack", [2], indirect=True)
def test_two_beats_start_a_scheduled_campaign_once_and_send_each_message_once(campaign, stack, fakes):
    Campaign.objects.filter(pk=campaign.pk).update(send_mode=SendMode.SCHEDULED,
                                                    scheduled_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3))
    services.campaign_launch(campaign=Campaign.objects.get(pk=campaign.pk))  # scheduled: beat starts it
    wait_for(lambda: finished(campaign), 180, "campaign completed")
    [run] = CampaignRun.objects.filter(campaign=campaign)  # both beats ticked; one run was started
    assert_all_sent_once_or_within(run, fakes, allowed_repeats=0)
