"""Benchmark the dashboard against a large tenant: `manage.py bench_dashboard --deliveries 10000000`.

Builds (once; re-used while the delivery count matches) a throwaway tenant "bench-dashboard" with
campaigns in every status, runs with counters (RunChannelStats), 90 days of DailyChannelStats,
budgets, and N Delivery rows written by INSERT ... SELECT generate_series in chunks (PostgreSQL
only). The dashboard never reads deliveries; the rows are there so the measurement is honest
about table and index sizes, caches and planner statistics. Then it times the dashboard view
and its chart-data endpoint through Django's test client (server time: middleware, queries,
template), median of --repeat requests after one warm-up.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    ChannelBudget,
    DailyChannelStats,
    Delivery,
    RunChannelStats,
)
from config.benchmarks import BenchResult, results_of
from tenants.models import Membership, Role, Tenant
from tenants.scoping import scopes_disabled, tenant_scope

SLUG = "bench-dashboard"
USERNAME = "bench-dashboard"
CHANNELS = ("email", "sms", "whatsapp", "push", "telegram")
STATUS_MIX = ([CampaignStatus.COMPLETED] * 120 + [CampaignStatus.ACTIVE] * 30 + [CampaignStatus.DRAFT] * 30
              + [CampaignStatus.SCHEDULED] * 10 + [CampaignStatus.PAUSED] * 5 + [CampaignStatus.CANCELLED] * 5)
CHUNK = 1_000_000
TARGET_MS = 200  # issue 7: the dashboard answers in under 200 ms


class Command(BaseCommand):
    help = "Time the dashboard's server time on a tenant with many deliveries (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--deliveries", type=int, default=10_000_000)
        parser.add_argument("--repeat", type=int, default=10)
        parser.add_argument("--rebuild", action="store_true", help="Drop and rebuild the bench tenant.")
        parser.add_argument("--drop", action="store_true", help="Drop the bench tenant afterwards.")

    def handle(self, *args, deliveries: int, repeat: int, rebuild: bool, drop: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark needs PostgreSQL (set DATABASE_URL).")
        if deliveries < 0 or repeat < 1:
            raise CommandError("--deliveries must be >= 0 and --repeat >= 1.")
        random.seed(7)
        self.deliveries = deliveries
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is not None and (rebuild or self._delivery_count(tenant) != deliveries):
            self._drop(tenant)
            tenant = None
        if tenant is None:
            tenant = self._build(deliveries)
        else:
            self.stdout.write(f"Re-using tenant {SLUG} with {deliveries:,} deliveries.")
        try:
            self._measure(tenant, repeat)
        finally:
            if drop:
                self._drop(tenant)

    # --- data ---------------------------------------------------------------------------------

    def _delivery_count(self, tenant: Tenant) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE tenant_id = %s", [tenant.pk])
            return cursor.fetchone()[0]

    def _drop(self, tenant: Tenant) -> None:
        self.stdout.write(f"Dropping tenant {SLUG} ...")
        with transaction.atomic(), connection.cursor() as cursor:
            # Straight SQL: the ORM's cascade would load millions of rows to delete them one by one.
            cursor.execute("DELETE FROM campaigns_delivery WHERE tenant_id = %s", [tenant.pk])
            with scopes_disabled():
                Tenant.objects.filter(pk=tenant.pk).delete()

    def _build(self, deliveries: int) -> Tenant:
        started = time.monotonic()
        tenant = Tenant.objects.create(slug=SLUG, name="Dashboard benchmark", timezone="Asia/Kolkata")
        user = get_user_model().objects.filter(username=USERNAME).first() or get_user_model().objects.create_user(
            username=USERNAME, password=None)
        now = timezone.now()
        with tenant_scope(tenant):
            Membership.objects.create(tenant=tenant, user=user, role=Role.ADMIN)
            runs: list[CampaignRun] = []
            stats: list[RunChannelStats] = []
            budgets: list[ChannelBudget] = []
            for i, status in enumerate(STATUS_MIX):
                channels = random.sample(CHANNELS, random.randint(1, 3))
                campaign = Campaign.objects.create(
                    tenant=tenant, name=f"Bench campaign {i}", channels=channels, status=status,
                    budget_total=Decimal(random.randint(100, 5000)) if i % 3 == 0 else None)
                if status == CampaignStatus.DRAFT:
                    continue
                for channel in channels:
                    if i % 2:
                        budgets.append(ChannelBudget(tenant=tenant, campaign=campaign, channel=channel,
                                                     allocated=Decimal(1000), spent=Decimal(random.randint(0, 1000))))
                for r in range(random.randint(1, 3)):
                    run = CampaignRun(tenant=tenant, campaign=campaign, status="completed",
                                      occurrence_at=now - dt.timedelta(days=random.randint(0, 89), minutes=r))
                    runs.append(run)
                    for channel in channels:
                        targeted = random.randint(1_000, 100_000)
                        sent = int(targeted * 0.9)
                        stats.append(RunChannelStats(
                            tenant=tenant, run=run, campaign=campaign, channel=channel, targeted=targeted,
                            skipped=targeted - sent, sent=sent, delivered=int(sent * .95), read=int(sent * .5),
                            clicked=int(sent * .1), replied=int(sent * .02), failed=int(sent * .03),
                            cost=Decimal(sent) / 100))
            CampaignRun.objects.bulk_create(runs)
            RunChannelStats.objects.bulk_create(stats)
            ChannelBudget.objects.bulk_create(budgets)
            today = timezone.localdate(now, tenant.tzinfo)
            DailyChannelStats.objects.bulk_create([
                DailyChannelStats(tenant=tenant, day=today - dt.timedelta(days=d), channel=ch,
                                  sent=random.randint(1_000, 200_000), delivered=random.randint(900, 190_000))
                for d in range(90) for ch in CHANNELS])
        self.stdout.write(f"{len(STATUS_MIX)} campaigns, {len(runs)} runs, {len(stats)} run counters "
                          f"({time.monotonic() - started:.1f}s)")
        self._fill_deliveries(tenant, runs, deliveries)
        return tenant

    def _fill_deliveries(self, tenant: Tenant, runs: list[CampaignRun], total: int) -> None:
        if not total:
            return
        run_ids = [str(r.pk) for r in runs]
        campaign_ids = [str(r.campaign_id) for r in runs]
        table = Delivery._meta.db_table
        # The run/campaign pairs are joined once as a tiny table; indexing a uuid[] parameter per
        # row would re-parse the array for every one of the millions of rows.
        sql = f"""
            INSERT INTO {table} (uuid, tenant_id, run_id, campaign_id, contact_id, channel, step, address, status,
                skip_reason, attempts, is_test, channel_config_id, provider_message_id, sent_at, delivered_at,
                disposition, error_code, error_message, cost, reply_text, created_at)
            SELECT gen_random_uuid(), %(tenant)s, m.run_id, m.campaign_id, NULL,
                (ARRAY['email','sms','whatsapp','push','telegram'])[1 + (g / %(n)s) %% 5], 0, 'bench-' || g,
                CASE WHEN g %% 20 = 0 THEN 'failed' ELSE 'delivered' END, '', 1, false, NULL, '',
                now() - (g %% 7776000) * interval '1 second', now() - (g %% 7776000) * interval '1 second',
                '', '', '', 0.01, '', now()
            FROM generate_series(%(start)s, %(stop)s) AS g
            JOIN unnest(%(runs)s::uuid[], %(campaigns)s::uuid[]) WITH ORDINALITY AS m(run_id, campaign_id, i)
              ON m.i = 1 + g %% %(n)s
        """
        started = time.monotonic()
        for start in range(0, total, CHUNK):
            stop = min(start + CHUNK, total) - 1
            with transaction.atomic(), connection.cursor() as cursor:
                # The run and campaign ids come from rows just created: skip the per-row foreign
                # key triggers for this throwaway data (needs a superuser; the indexes are kept).
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute(sql, {"tenant": tenant.pk, "runs": run_ids, "campaigns": campaign_ids,
                                     "n": len(run_ids), "start": start, "stop": stop})
            elapsed = time.monotonic() - started
            self.stdout.write(f"  {stop + 1:,} deliveries ({elapsed:.0f}s, {(stop + 1) / elapsed:,.0f} rows/s)")
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")

    # --- measurement --------------------------------------------------------------------------

    def _measure(self, tenant: Tenant, repeat: int) -> None:
        user = get_user_model().objects.get(username=USERNAME)
        client = Client()
        client.force_login(user)
        for label, url in (("dashboard", f"/t/{SLUG}/"), ("dashboard, 90 days", f"/t/{SLUG}/?days=90"),
                           ("chart data JSON", f"/t/{SLUG}/analytics/dashboard.json")):
            response = client.get(url)  # warm-up
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            timings = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    t0 = time.perf_counter()
                    client.get(url)
                    timings.append((time.perf_counter() - t0) * 1000)
            touched = [q for q in queries.captured_queries if "campaigns_delivery" in q["sql"]]
            median = statistics.median(timings)
            results_of(self).append(BenchResult(
                f"Dashboard < 200 ms with {self.deliveries:,} deliveries: {label} (issue 7)",
                f"median {median:.0f} ms, {len(touched)} queries on deliveries", median < TARGET_MS))
            self.stdout.write(
                f"{label:20s} median {statistics.median(timings):6.1f} ms  min {min(timings):6.1f}  "
                f"max {max(timings):6.1f}  ({len(queries.captured_queries)} queries, "
                f"{len(touched)} on deliveries)")
