"""Benchmark a campaign end to end: fan-out, dispatch with real Celery workers through the fake
providers over loopback, and launch-to-acceptance latency.

    python manage.py bench_campaign --contacts 1000000 --channels sms,email --workers 2

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL). It creates a throwaway tenant, prints its
figures as a markdown table and deletes the tenant (unless --keep). The bare INSERT ... SELECT
of the same rows into the same table is measured in the same run, and the ratio printed.

Channels are dispatched one after the other, each by every worker (--together: all at once).
Besides messages/s it prints the CPU time spent per message by the workers, the fake provider and
this database's PostgreSQL backends (from /proc): on a shared machine wall-clock rates follow the
neighbours' load, CPU per message does not.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from config.benchmarks import BenchResult, results_of

ROOT = Path(__file__).resolve().parents[3]
SLUG = "bench-campaign"
TARGET_RATES = {"sms": 2_000, "email": 10_000}  # issue 6: messages/s sustained with two workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command(BaseCommand):
    help = "Fan-out and dispatch benchmark through real workers and the fake providers."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=100_000)
        parser.add_argument("--channels", default="sms,email")
        parser.add_argument("--workers", type=int, default=2, help="worker processes (concurrency 1 each)")
        parser.add_argument("--together", action="store_true",
                            help="dispatch every channel at once (default: one channel after the other, each with "
                                 "every worker, which is what the per-channel targets are about)")
        parser.add_argument("--keep", action="store_true")
        parser.add_argument("--phase-timeout", type=int, default=3600,
                            help="seconds a channel may take to send everything before the benchmark fails")

    def handle(self, *args, contacts: int, channels: str, workers: int, keep: bool, together: bool = False,
               **options):
        self.together = together
        self.phase_timeout = options.get("phase_timeout", 3600)
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("bench_campaign needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL.")
        chosen = [c.strip() for c in channels.split(",") if c.strip()]
        unknown = set(chosen) - {"sms", "email"}
        if unknown:
            raise CommandError(f"Only sms and email are benchmarked; not {', '.join(sorted(unknown))}.")
        from tenants.models import Tenant
        from tenants.scoping import scopes_disabled, tenant_scope

        with scopes_disabled():
            Tenant.objects.filter(slug=SLUG).delete()
        tenant = Tenant.objects.create(slug=SLUG, name="Benchmark", timezone="UTC", default_phone_region="US")
        fake_port = _free_port()
        fake = subprocess.Popen([sys.executable, "manage.py", "fakeproviders", "--port", str(fake_port)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        pool: list[subprocess.Popen] = []
        try:
            fake_url = f"http://127.0.0.1:{fake_port}"
            self._wait_port(fake_port)
            # No status callbacks: no web server is listening, and the fake should only answer sends.
            httpx.post(f"{fake_url}/twilio/_config", json={"message_statuses": []}, timeout=10).raise_for_status()
            with tenant_scope(tenant):
                rows = self._run(tenant, chosen, contacts, workers, fake_url, pool, fake)
            self._print(rows, contacts, chosen, workers)
        finally:
            for proc in [*pool, fake]:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for proc in [*pool, fake]:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            if not keep:
                self.stdout.write("Deleting the benchmark tenant ...")
                with connection.cursor() as cursor:  # faster than the ORM's cascade over millions of rows
                    cursor.execute("DELETE FROM campaigns_delivery WHERE tenant_id = %s", [tenant.pk])
                    # The seeded contacts have nothing else pointing at them (no consent history, tags
                    # or lists); the ORM would load a million of them to cascade.
                    cursor.execute("DELETE FROM audiences_contact WHERE tenant_id = %s", [tenant.pk])
                with scopes_disabled():
                    Tenant.objects.filter(pk=tenant.pk).delete()

    # --- steps ----------------------------------------------------------------------------------

    def _run(self, tenant, channels, contacts, workers, fake_url, pool, fake) -> list[tuple[str, str]]:
        from campaigns import lifecycle
        from campaigns.engine.fanout import run_fan_out
        from campaigns.lifecycle import Action
        from campaigns.models import (
            Campaign,
            CampaignContent,
            CampaignRun,
            Delivery,
            RunChannelStats,
        )

        self.stdout.write(f"Seeding {contacts:,} contacts ...")
        self._seed_contacts(tenant, contacts)
        self._configs(tenant, channels)
        campaign = Campaign.objects.create(tenant=tenant, name="Benchmark", channels=channels, audience_everyone=True,
                                           calling_hours_start=dt.time(0), calling_hours_end=dt.time(23, 59, 59))
        content = {"sms": {"text": "Hi {{ first_name }}, 20% off today. Reply STOP to opt out"},
                   "email": {"subject": "Hi {{ first_name }}", "html": "<p>Our sale starts now, {{ first_name }}.</p>"}}
        for ch in channels:
            CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel=ch, data=content[ch])

        rows = len(channels) * contacts
        self.stdout.write(f"Bare INSERT ... SELECT of {rows:,} rows ...")
        bare = self._bare_insert(tenant, campaign, channels)

        self.stdout.write("Fan-out ...")
        lifecycle.transition(campaign, Action.SEND_NOW)
        launched = timezone.now()
        run = CampaignRun.objects.create(tenant=tenant, campaign=campaign, occurrence_at=launched)
        start = time.perf_counter()
        run_fan_out(run_id=run.pk)  # enqueues dispatch on commit; workers are not running yet
        fan_out = time.perf_counter() - start

        # Every channel waits (not_before far ahead) until its phase releases it, so a phase's
        # rate and CPU belong to its own channels.
        table = Delivery._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET not_before = now() + interval '1 day' "
                           "WHERE run_id = %s AND status = 'pending'", [run.pk])
        self.stdout.write(f"Dispatch with {workers} worker process(es) ...")
        env = {**os.environ, "TWILIO_API_BASE": f"{fake_url}/twilio", "SENDGRID_API_HOST": f"{fake_url}/sendgrid",
               "LOG_LEVEL": "WARNING"}
        for n in range(workers):
            pool.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "1", "-P", "prefork",
                 "--without-gossip", "--without-mingle", "-n", f"bench{n}@%h"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        from campaigns.tasks import run_dispatch_task

        phases = [channels] if self.together else [[ch] for ch in channels]
        rates: dict[str, float] = {}
        cpu_rows: list[tuple[str, str]] = []
        latency_rows: list[tuple[str, str]] = []
        for phase in phases:
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET not_before = NULL WHERE run_id = %s AND status = 'pending' "
                               "AND channel = ANY(%s)", [run.pk, phase])
                # The two updates above left a dead version of every row (and its index entries),
                # which a real run does not have and every claim would step over: gone before timing.
                cursor.execute(f"VACUUM {table}")
            phase_start = self._phase_start = timezone.now()
            self._pg_seen: dict[int, tuple[float, float]] = {}  # backend pid -> (CPU at first sight, latest)
            before = self._cpu(pool, fake)
            # One dispatcher per worker process and channel, so every process has work on every channel.
            for _ in range(workers):
                for ch in phase:
                    run_dispatch_task.delay(tenant.pk, str(run.pk), ch)
            samples: dict[str, list[tuple[float, int]]] = {ch: [] for ch in phase}
            deadline = time.monotonic() + self.phase_timeout
            while time.monotonic() < deadline:
                now = time.monotonic()
                sent = dict(RunChannelStats.objects.filter(run=run).values_list("channel", "sent"))
                for ch in phase:
                    samples[ch].append((now, sent.get(ch, 0)))
                if all(sent.get(ch, 0) >= contacts for ch in phase):
                    break
                self._cpu(pool, fake)  # keeps sight of backends that close before the phase ends
                time.sleep(0.5)
            else:
                raise CommandError(f"{'+'.join(phase)}: {sent} of {contacts:,} per channel sent within "
                                   f"{self.phase_timeout} s.")
            after = self._cpu(pool, fake)
            for ch in phase:
                rates[ch] = self._sustained_rate(samples[ch], contacts)
            label = "+".join(phase)
            sent_total = sum(samples[ch][-1][1] - samples[ch][0][1] for ch in phase) or 1
            per = {k: (after[k] - before[k]) / sent_total * 1e6 for k in after}
            cpu_rows.append((f"CPU per {label} message: workers / fake provider / PostgreSQL",
                             f"{per['workers']:,.0f} / {per['fake']:,.0f} / {per['postgres']:,.0f} µs"))
            latency = list(Delivery.objects.filter(run=run, channel__in=phase, sent_at__isnull=False).extra(
                select={"ms": "EXTRACT(EPOCH FROM (sent_at - %s)) * 1000"}, select_params=[phase_start]
            ).values_list("ms", flat=True).order_by("ms")[::max(1, contacts * len(phase) // 20000)])
            p50 = statistics.quantiles(latency, n=100)[49] / 1000 if len(latency) > 1 else 0
            p95 = statistics.quantiles(latency, n=100)[94] / 1000 if len(latency) > 1 else 0
            latency_rows.append((f"Dispatch start -> provider acceptance p50 / p95 ({label})",
                                 f"{p50:.1f} s / {p95:.1f} s"))
        cost = RunChannelStats.objects.filter(run=run).aggregate(cost=Sum("cost"))["cost"] or Decimal(0)
        out = [
            ("Contacts x channels", f"{contacts:,} x {len(channels)} = {rows:,} deliveries"),
            ("Bare INSERT ... SELECT", f"{bare:.1f} s ({rows / bare:,.0f} rows/s)"),
            ("Fan-out (audience + skip rules)", f"{fan_out:.1f} s ({rows / fan_out:,.0f} rows/s), "
                                                f"{fan_out / bare:.2f}x the bare insert"),
        ]
        mode = "channels together" if self.together else "one channel at a time"
        for ch in channels:
            out.append((f"Dispatch {ch} (sustained, 10%-90%, {mode})", f"{rates[ch]:,.0f} messages/s"))
        ratio = fan_out / bare
        results_of(self).append(BenchResult(
            f"Fan-out of {contacts:,} contacts x {len(channels)} within 1.5x of a bare INSERT ... SELECT (issue 6)",
            f"{ratio:.2f}x ({fan_out:.1f} s vs {bare:.1f} s)", ratio <= 1.5))
        for ch in channels:
            target = TARGET_RATES.get(ch)
            if target:
                results_of(self).append(BenchResult(
                    f"{ch.upper() if ch == 'sms' else ch.capitalize()} >= {target:,}/s with {workers} workers "
                    "(issue 6)", f"{rates[ch]:,.0f}/s sustained", rates[ch] >= target))
        out += [*cpu_rows, *latency_rows, ("Total cost recorded", f"{cost}"),
                ("Load average (1 / 5 / 15 min) at the end", " / ".join(f"{x:.1f}" for x in os.getloadavg()))]
        return out

    def _cpu(self, pool, fake) -> dict[str, float]:
        """CPU seconds so far of the worker process groups and the fake provider, and the CPU this
        database's PostgreSQL backends used since the phase began (other databases on the server are
        not counted; a backend that appears later counts from its start, one that closes keeps
        what was last seen of it)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid, backend_start < %s FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "AND backend_type = 'client backend'",  # not autovacuum
                           [self._phase_start])
            backends = dict(cursor.fetchall())
        groups = {proc.pid: "workers" for proc in pool}
        groups[fake.pid] = "fake"
        totals = {"workers": 0.0, "fake": 0.0, "postgres": 0.0}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, pgrp = int(entry.name), int(fields[2])
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if pgrp in groups:
                totals[groups[pgrp]] += seconds
            elif pid in backends:
                first, _ = self._pg_seen.get(pid, (seconds if backends[pid] else 0.0, 0.0))
                self._pg_seen[pid] = (first, seconds)
        totals["postgres"] = sum(latest - first for first, latest in self._pg_seen.values())
        return totals

    def _seed_contacts(self, tenant, n: int) -> None:
        from audiences.models import Contact

        sql = f"""
            INSERT INTO {Contact._meta.db_table} (id, tenant_id, first_name, last_name, email, phone, role, city,
                pincode, attributes, timezone, locale, telegram_chat_id, telegram_username, consent_email,
                consent_push, consent_sms, consent_whatsapp, consent_telegram, consent_voice, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'Bench' || g, 'User', 'bench' || g || '@example.com',
                   '+1202' || lpad(g::text, 7, '0'), 'customer', 'Springfield', '62701', '{{}}'::jsonb, '', '', '', '',
                   'opted_in', 'unknown', 'opted_in', 'unknown', 'unknown', 'unknown', now(), now()
            FROM generate_series(1, %s) AS g
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [tenant.pk, n])
            cursor.execute(f"ANALYZE {Contact._meta.db_table}")

    def _configs(self, tenant, channels) -> None:
        from channels.models import ChannelConfig

        specs = {
            "sms": ("twilio_sms", {"account_sid": "AC" + "b" * 32, "from_number": "+15005550006"},
                    {"auth_token": "bench-token"}),
            "email": ("sendgrid", {"from_email": "offers@bench.example", "from_name": "Bench"},
                      {"api_key": "SG.bench-key"}),
        }
        for ch in channels:
            provider, values, secrets = specs[ch]
            config = ChannelConfig(tenant=tenant, name=f"{ch} bench", channel=ch, provider=provider, settings=values,
                                   rate_per_second=100_000, unit_cost=Decimal("0.001"), is_default=True)
            config.set_secrets(secrets)
            config.save()

    def _bare_insert(self, tenant, campaign, channels) -> float:
        """The same rows into the same table with nothing but the insert: the yardstick."""
        from audiences.models import Contact
        from campaigns.models import CampaignRun, Delivery

        run = CampaignRun.objects.create(tenant=tenant, campaign=campaign, occurrence_at=timezone.now(),
                                         is_test=True)
        table = Delivery._meta.db_table
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for ch in channels:
                cursor.execute(f"""
                    INSERT INTO {table} (uuid, tenant_id, run_id, campaign_id, contact_id, channel, step, address,
                        status, skip_reason, attempts, is_test, provider_message_id, disposition, error_code,
                        error_message, cost, reply_text, created_at)
                    SELECT gen_random_uuid(), %s, %s, %s, c.id, %s, 0, c.email, 'pending', '', 0, true, '', '', '',
                           '', 0, '', now()
                    FROM {Contact._meta.db_table} c WHERE c.tenant_id = %s
                    ON CONFLICT DO NOTHING
                """, [tenant.pk, run.pk, campaign.pk, ch, tenant.pk])
        elapsed = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE run_id = %s", [run.pk])
        run.delete()
        return elapsed

    @staticmethod
    def _sustained_rate(samples: list[tuple[float, int]], total: int) -> float:
        lo = next(((t, n) for t, n in samples if n >= total * 0.1), None)
        hi = next(((t, n) for t, n in samples if n >= total * 0.9), None)
        if not lo or not hi or hi[0] <= lo[0]:
            return 0.0
        return (hi[1] - lo[1]) / (hi[0] - lo[0])

    def _wait_port(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise CommandError("The fake provider server did not start.")

    def _print(self, rows, contacts, channels, workers) -> None:
        cores = os.cpu_count()
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        self.stdout.write("")
        self.stdout.write(f"bench_campaign --contacts {contacts} --channels {','.join(channels)} --workers {workers}"
                          f"{' --together' if self.together else ''}"
                          f"  ({cores} cores, {mem_gb:.0f} GiB)")
        self.stdout.write("| Measure | Result |")
        self.stdout.write("|---|---|")
        for name, value in rows:
            self.stdout.write(f"| {name} | {value} |")
