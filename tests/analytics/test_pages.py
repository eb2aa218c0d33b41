"""Dashboard, campaign report, exports and operations: figures match the counters, the dashboard
never counts deliveries, every page and data endpoint is tenant-isolated, roles are respected."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import selectors
from analytics.models import ClickEvent, Conversion, TrackedLink
from campaigns.models import (
    Campaign,
    CampaignRun,
    ChannelBudget,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
)
from tenants.scoping import tenant_scope
from tests.analytics.helpers import contact, sandbox

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _run(tenant, campaign, *, ago=dt.timedelta(days=1), **counts):
    run = CampaignRun.objects.create(tenant=tenant, campaign=campaign, occurrence_at=NOW - ago, status="completed",
                                     fanned_out_at=NOW - ago)
    for channel, values in counts.items():
        RunChannelStats.objects.create(tenant=tenant, run=run, campaign=campaign, channel=channel, **values)
    return run


@pytest.fixture
def seeded(tenant_a):
    """Tenant A: 2 active, 1 draft, 1 completed campaign with counters, budgets and daily figures."""
    with tenant_scope(tenant_a):
        active1 = Campaign.objects.create(tenant=tenant_a, name="Active one", channels=["email", "sms"],
                                          status="active", budget_total=Decimal("100"))
        active2 = Campaign.objects.create(tenant=tenant_a, name="Active two", channels=["sms"], status="active")
        Campaign.objects.create(tenant=tenant_a, name="Draft", channels=["whatsapp"], status="draft")
        done = Campaign.objects.create(tenant=tenant_a, name="Done", channels=["email"], status="completed")
        # An older run of active1 must not count towards reach: only the latest run does.
        _run(tenant_a, active1, ago=dt.timedelta(days=20), email={"targeted": 999, "skipped": 0})
        _run(tenant_a, active1, email={"targeted": 100, "skipped": 10, "sent": 90, "delivered": 80, "read": 40,
                                       "clicked": 10, "replied": 2},
             sms={"targeted": 50, "skipped": 0, "sent": 50, "delivered": 45})
        _run(tenant_a, active2, sms={"targeted": 30, "skipped": 5, "sent": 25, "delivered": 20, "replied": 3})
        _run(tenant_a, done, email={"targeted": 10, "sent": 10, "delivered": 10})
        ChannelBudget.objects.create(tenant=tenant_a, campaign=active2, channel="sms", allocated=Decimal("50"),
                                     spent=Decimal("12.5"))
        ChannelBudget.objects.create(tenant=tenant_a, campaign=active1, channel="email", allocated=Decimal("60"),
                                     spent=Decimal("25"))
        today = timezone.localdate(NOW, tenant_a.tzinfo)
        DailyChannelStats.objects.create(tenant=tenant_a, day=today, channel="email", sent=90)
        DailyChannelStats.objects.create(tenant=tenant_a, day=today - dt.timedelta(days=3), channel="sms", sent=75)
        DailyChannelStats.objects.create(tenant=tenant_a, day=today - dt.timedelta(days=40), channel="sms", sent=7)
    return {"active1": active1, "active2": active2, "done": done}


# --- dashboard ----------------------------------------------------------------------------------

def test_dashboard_figures_match_the_seeded_counters(owner_client, seeded):
    response = owner_client.get("/t/tenant-a/")
    assert response.status_code == 200
    data = response.context["data"]
    assert (data.active, data.drafts, data.completed) == (2, 1, 1)
    assert data.reach == (100 - 10) + 50 + (30 - 5)
    # active1: 25 of its 100 total budget; active2: 12.5 of its 50 allocation.
    assert (data.budget_spent, data.budget_total) == (Decimal("37.5"), Decimal("150"))
    assert data.budget_utilization == 25.0
    assert b"25.0%" in response.content and b"165" in response.content
    charts = data.charts
    assert dict(zip(charts["status"]["keys"], charts["status"]["values"], strict=True)) == {
        "draft": 1, "active": 2, "completed": 1}
    assert dict(zip(charts["channel"]["keys"], charts["channel"]["values"], strict=True)) == {
        "email": 2, "sms": 2, "whatsapp": 1}
    daily = {s["key"]: sum(s["values"]) for s in charts["daily"]["series"]}
    assert daily == {"email": 90, "sms": 75} and len(charts["daily"]["labels"]) == 30
    # Funnel: runs started in the range (the 20-day-old run adds only targeted, not in the funnel).
    assert charts["funnel"]["values"] == [90 + 50 + 25 + 10, 80 + 45 + 20 + 10, 40, 10, 5]
    # Chart data reaches the page as JSON for the static script, not as inline code.
    assert b'id="chart-data-daily" type="application/json"' in response.content
    assert b"js/charts.js" in response.content


def test_the_range_selector_and_its_json_endpoint(owner_client, seeded):
    seven = owner_client.get("/t/tenant-a/analytics/dashboard.json?days=7").json()
    ninety = owner_client.get("/t/tenant-a/analytics/dashboard.json?days=90").json()
    assert len(seven["daily"]["labels"]) == 7 and len(ninety["daily"]["labels"]) == 90
    assert {s["key"]: sum(s["values"]) for s in ninety["daily"]["series"]} == {"email": 90, "sms": 82}
    # An unknown range falls back to the default instead of failing.
    assert len(owner_client.get("/t/tenant-a/?days=5000").context["data"].charts["daily"]["labels"]) == 30


def test_the_dashboard_never_reads_deliveries(owner_client, seeded):
    with CaptureQueriesContext(connection) as queries:
        assert owner_client.get("/t/tenant-a/").status_code == 200
        assert owner_client.get("/t/tenant-a/analytics/dashboard.json").status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "campaigns_delivery" in q["sql"]]


def test_an_empty_workspace_gets_a_getting_started_dashboard(owner_client):
    response = owner_client.get("/t/tenant-a/")
    assert response.status_code == 200 and b"Import your contacts" in response.content
    assert response.context["data"].budget_utilization is None


def test_another_tenants_dashboard_and_chart_data_answer_404(outsider_client, seeded):
    assert outsider_client.get("/t/tenant-a/").status_code == 404
    assert outsider_client.get("/t/tenant-a/analytics/dashboard.json").status_code == 404
    own = outsider_client.get("/t/tenant-b/analytics/dashboard.json").json()
    assert own["status"]["values"] == [] and own["daily"]["series"] == []


# --- campaign report ----------------------------------------------------------------------------

@pytest.fixture
def reported(tenant_a):
    """A finished email + SMS campaign with deliveries in every state, clicks and conversions."""
    with tenant_scope(tenant_a):
        config = sandbox(tenant_a, "sms")
        campaign = Campaign.objects.create(tenant=tenant_a, name="Festive =SUM(A1)", channels=["email", "sms"],
                                           status="completed")
        sent_at = NOW - dt.timedelta(hours=5)
        run = _run(tenant_a, campaign, ago=dt.timedelta(hours=6),
                   email={"targeted": 4, "sent": 3, "delivered": 3, "read": 2, "clicked": 1, "replied": 1,
                          "cost": Decimal("0.30"), "skipped": 1},
                   sms={"targeted": 4, "sent": 2, "delivered": 2, "failed": 2, "cost": Decimal("2.00")})
        people = [contact(tenant_a, i, first_name=name) for i, name in
                  enumerate(["=HYPERLINK(\"http://x\")", "+Asha", "@Ravi", "-Meena", "Plain"])]

        def add(person, channel, status, **kw):
            return Delivery.objects.create(tenant=tenant_a, run=run, campaign=campaign, contact=person,
                                           channel=channel, address=person.email, status=status,
                                           channel_config=config, **kw)

        replied = add(people[0], "email", DeliveryStatus.REPLIED, sent_at=sent_at, delivered_at=sent_at,
                      read_at=sent_at, replied_at=sent_at + dt.timedelta(minutes=30))
        clicked = add(people[1], "email", DeliveryStatus.CLICKED, sent_at=sent_at, delivered_at=sent_at,
                      read_at=sent_at, clicked_at=sent_at + dt.timedelta(minutes=5))
        add(people[2], "email", DeliveryStatus.DELIVERED, sent_at=sent_at, delivered_at=sent_at)
        add(people[3], "email", DeliveryStatus.SKIPPED, skip_reason="opted_out")
        sms_ok = add(people[0], "sms", DeliveryStatus.DELIVERED, sent_at=sent_at, delivered_at=sent_at,
                     cost=Decimal("1"))
        add(people[1], "sms", DeliveryStatus.DELIVERED, sent_at=sent_at, delivered_at=sent_at, replied_at=None)
        add(people[2], "sms", DeliveryStatus.FAILED, failed_at=sent_at, error_code="21211",
            error_message="The 'To' number is not a valid phone number.")
        add(people[3], "sms", DeliveryStatus.FAILED, failed_at=sent_at, error_code="21610",
            error_message="Attempt to send to unsubscribed recipient")
        link = TrackedLink.objects.create(tenant=tenant_a, campaign=campaign, url="https://shop.example.com/")
        for _ in range(3):
            ClickEvent.objects.create(tenant=tenant_a, delivery=clicked, campaign=campaign, link=link, channel="email")
        Conversion.objects.create(tenant=tenant_a, delivery=clicked, campaign=campaign, channel="email",
                                  event="purchase", revenue=Decimal("10.30"), occurred_at=NOW)
        Conversion.objects.create(tenant=tenant_a, delivery=clicked, campaign=campaign, channel="email",
                                  event="upsell", revenue=Decimal("5"), occurred_at=NOW)
        Conversion.objects.create(tenant=tenant_a, delivery=sms_ok, campaign=campaign, channel="sms",
                                  event="purchase", revenue=Decimal("4.00"), occurred_at=NOW)
    return {"campaign": campaign, "replied": replied}


def test_the_report_shows_each_metric_with_its_rate_revenue_cost_and_roi(analyst_client, reported):
    campaign = reported["campaign"]
    response = analyst_client.get(f"/t/tenant-a/analytics/campaigns/{campaign.pk}/")
    assert response.status_code == 200
    rows = {r.channel: r for r in response.context["rows"]}
    email, sms, total = rows["email"], rows["sms"], response.context["total"]
    assert (email.sent, email.delivered, email.read, email.clicked, email.replied) == (3, 3, 2, 1, 1)
    assert email.clicks_total == 3 and email.converted == 1 and email.revenue == Decimal("15.30")
    assert (email.delivery_rate, email.open_rate, email.click_rate, email.response_rate) == (100.0, 66.7, 33.3, 33.3)
    assert email.conversion_rate == 33.3
    assert email.roi == 5000.0  # (15.30 - 0.30) / 0.30
    assert (sms.failed, sms.converted, sms.revenue, sms.roi) == (2, 1, Decimal("4.00"), 100.0)
    assert (total.sent, total.delivered, total.converted, total.revenue, total.cost) == (
        5, 5, 2, Decimal("19.30"), Decimal("2.30"))
    assert total.conversion_rate == 40.0
    content = response.content.decode()
    assert "Click-through rate" in content and "5000.0%" in content


def test_the_report_groups_statuses_and_failure_reasons_and_times_responses(owner_client, reported):
    response = owner_client.get(f"/t/tenant-a/analytics/campaigns/{reported['campaign'].pk}/")
    statuses = {s.status: (s.count, s.percent) for s in response.context["statuses"]}
    assert statuses == {"delivered": (3, 37.5), "clicked": (1, 12.5), "replied": (1, 12.5),
                        "failed": (2, 25.0), "skipped": (1, 12.5)}
    failures = {g.key: g for g in response.context["failures"]}
    assert set(failures) == {"invalid", "blocked"}
    assert failures["invalid"].examples == ["The 'To' number is not a valid phone number."]
    assert failures["blocked"].codes == ["21610"]
    assert response.context["response_time"] == dt.timedelta(minutes=30)
    assert b"30m 0s" in response.content


@pytest.mark.parametrize("code, category", [
    ("21211", "invalid"), ("21610", "blocked"), ("timeout", "network"), ("63016", "platform"),
    ("131049", "platform"), ("403", "blocked"), ("99999", "other"), ("", "other"),
])
def test_provider_codes_map_to_failure_categories(code, category):
    assert selectors.failure_category(code) == category


def test_events_over_time_are_bucketed_by_hour_for_a_recent_campaign(owner_client, reported):
    data = owner_client.get(f"/t/tenant-a/analytics/campaigns/{reported['campaign'].pk}/events.json").json()
    assert data["bucket"] == "hour"
    series = {s["key"]: sum(s["values"]) for s in data["series"]}
    assert series == {"sent": 5, "delivered": 5, "read": 2, "clicked": 1, "replied": 1}


def test_report_csv_has_every_channel_and_the_total(owner_client, reported):
    response = owner_client.get(f"/t/tenant-a/analytics/campaigns/{reported['campaign'].pk}/report.csv")
    assert response.status_code == 200 and response.streaming
    assert 'filename="festive-suma1-report.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["Channel", "Sent", "Delivered", "Delivery rate (%)"]
    assert [r[0] for r in rows[1:]] == ["Email", "SMS", "Total"]
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert (total["Sent"], total["Converted"], total["Revenue"], total["ROI (%)"]) == ("5", "2", "19.30", "739.1")


def test_members_csv_is_streamed_with_formula_cells_neutralized(owner_client, reported, monkeypatch):
    from analytics import exports

    monkeypatch.setattr(exports, "PAGE", 3)  # several keyset pages
    response = owner_client.get(f"/t/tenant-a/analytics/campaigns/{reported['campaign'].pk}/members.csv")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 8
    names = {r["First name"] for r in rows}
    assert names == {"'=HYPERLINK(\"http://x\")", "'+Asha", "'@Ravi", "'-Meena"}
    failed = [r for r in rows if r["Status"] == "failed"]
    assert {r["Error code"] for r in failed} == {"21211", "21610"}


def test_csv_safe_quotes_every_formula_prefix():
    from analytics.exports import csv_safe

    assert [csv_safe(v) for v in ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "ok", 5, None]] == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", "5", ""]


@pytest.mark.parametrize("suffix", ["", "events.json", "report.csv", "members.csv"])
def test_another_tenants_campaign_answers_404_on_every_report_url(outsider_client, owner_client, reported, tenant_b,
                                                                 suffix):
    campaign = reported["campaign"]
    # Through A's URL (not a member) and through B's own URL (not B's campaign).
    assert outsider_client.get(f"/t/tenant-a/analytics/campaigns/{campaign.pk}/{suffix}").status_code == 404
    assert outsider_client.get(f"/t/tenant-b/analytics/campaigns/{campaign.pk}/{suffix}").status_code == 404
    assert owner_client.get(f"/t/tenant-a/analytics/campaigns/{campaign.pk}/{suffix}").status_code == 200


# --- operations ---------------------------------------------------------------------------------

def test_operations_is_for_admins_only(owner_client, marketer_client, analyst_client):
    assert owner_client.get("/t/tenant-a/analytics/operations/").status_code == 200
    assert marketer_client.get("/t/tenant-a/analytics/operations/").status_code == 403
    assert analyst_client.get("/t/tenant-a/analytics/operations/").status_code == 403
    # Analysts still read the dashboard.
    assert analyst_client.get("/t/tenant-a/").status_code == 200


def test_operations_refreshes_its_panel_through_htmx(owner_client):
    page = owner_client.get("/t/tenant-a/analytics/operations/")
    assert b'hx-trigger="every 10s"' in page.content and b"<html" in page.content
    panel = owner_client.get("/t/tenant-a/analytics/operations/", HTTP_HX_REQUEST="true")
    assert b'id="ops-panel"' in panel.content and b"<html" not in panel.content


def test_operations_figures_send_rate_error_rate_stuck_runs_and_health(owner_client, tenant_a):
    with tenant_scope(tenant_a):
        config = sandbox(tenant_a, "sms")
        config.last_test_ok, config.last_test_message = False, "Authentication failed (20003)"
        config.last_test_at = NOW
        config.save()
        busy = Campaign.objects.create(tenant=tenant_a, name="Busy", channels=["sms"], status="active")
        idle = Campaign.objects.create(tenant=tenant_a, name="Idle", channels=["sms"], status="active")
        busy_run = CampaignRun.objects.create(tenant=tenant_a, campaign=busy, occurrence_at=NOW, status="sending",
                                              fanned_out_at=NOW - dt.timedelta(hours=1))
        idle_run = CampaignRun.objects.create(tenant=tenant_a, campaign=idle, occurrence_at=NOW, status="sending",
                                              fanned_out_at=NOW - dt.timedelta(hours=1))
        person = contact(tenant_a, 1)
        rows = []
        for i in range(12):  # 12 sent in the last 15 minutes on the busy run
            rows.append(Delivery(tenant=tenant_a, run=busy_run, campaign=busy, channel="sms", address=f"+1{i}",
                                 status=DeliveryStatus.SENT, sent_at=NOW - dt.timedelta(minutes=3),
                                 channel_config=config))
        for i in range(3):  # rejected without being accepted
            rows.append(Delivery(tenant=tenant_a, run=busy_run, campaign=busy, channel="sms", address=f"+2{i}",
                                 status=DeliveryStatus.FAILED, failed_at=NOW - dt.timedelta(minutes=20),
                                 channel_config=config))
        # Bounces: one accepted two hours ago, one accepted five minutes ago (one attempt each).
        rows.append(Delivery(tenant=tenant_a, run=busy_run, campaign=busy, channel="sms", address="+40",
                             status=DeliveryStatus.FAILED, sent_at=NOW - dt.timedelta(hours=2),
                             failed_at=NOW - dt.timedelta(minutes=10), channel_config=config))
        rows.append(Delivery(tenant=tenant_a, run=busy_run, campaign=busy, channel="sms", address="+41",
                             status=DeliveryStatus.FAILED, sent_at=NOW - dt.timedelta(minutes=5),
                             failed_at=NOW - dt.timedelta(minutes=2), channel_config=config))
        rows.append(Delivery(tenant=tenant_a, run=busy_run, campaign=busy, channel="sms", contact=person,
                             address="+30", status=DeliveryStatus.PENDING))
        rows.append(Delivery(tenant=tenant_a, run=idle_run, campaign=idle, channel="sms", contact=person,
                             address="+31", status=DeliveryStatus.PENDING))
        Delivery.objects.bulk_create(rows)
    response = owner_client.get("/t/tenant-a/analytics/operations/")
    rates = {r.channel: (r.sent, r.per_minute) for r in response.context["rates"]}
    assert rates == {"sms": (13, 0.9)}
    (errors,) = response.context["errors"]
    assert (errors.provider, errors.attempted, errors.failed, errors.rate) == ("sandbox", 17, 5, 29.4)
    assert [s.run.pk for s in response.context["stuck"]] == [idle_run.pk]
    assert b"Authentication failed (20003)" in response.content
    assert response.context["queue"].transport == "redis"


def test_queue_depth_reads_the_broker(settings):
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    client.rpush("celery", "a", "b", "c")
    try:
        assert selectors.queue_depth().depth == 3
    finally:
        client.delete("celery")


def test_queue_depth_counts_files_for_the_filesystem_transport(settings, tmp_path):
    settings.REDIS_URL = None
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for i in range(2):
        (tmp_path / f"{i}.msg").write_text("{}")
    depth = selectors.queue_depth()
    assert (depth.transport, depth.depth) == ("filesystem", 2)


def test_unsubscribes_after_the_campaign_count_in_the_report(owner_client, reported, tenant_a):
    from django.test import Client

    from audiences.models import Contact
    from audiences.services import unsubscribe_one_click_path, unsubscribe_path

    with tenant_scope(tenant_a):
        person = Contact.objects.get(pk=reported["replied"].contact_id)  # got the email and an SMS
        bystander = contact(tenant_a, 99)  # never messaged by this campaign
        one_click = unsubscribe_one_click_path(contact=person, channel="email")
        everywhere = unsubscribe_path(contact=person)
        other = unsubscribe_one_click_path(contact=bystander, channel="email")
    public = Client()
    assert public.post(one_click, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert public.post(everywhere, {"action": "all"}).status_code == 200
    assert public.post(other, {"List-Unsubscribe": "One-Click"}).status_code == 200
    response = owner_client.get(f"/t/tenant-a/analytics/campaigns/{reported['campaign'].pk}/")
    rows = {r.channel: r for r in response.context["rows"]}
    assert (rows["email"].unsubscribed, rows["sms"].unsubscribed) == (1, 1)
    assert response.context["total"].unsubscribed == 1  # one person, however many channels
    assert rows["email"].unsubscribe_rate == 33.3


def test_the_deployment_operations_view_is_for_superusers_and_spans_tenants(owner_client, tenant_a, tenant_b):
    from django.contrib.auth import get_user_model
    from django.test import Client

    with tenant_scope(tenant_a):
        sandbox(tenant_a, "sms")
    with tenant_scope(tenant_b):
        sandbox(tenant_b, "email")
    assert Client().get("/ops/").status_code == 302  # to the login page
    assert owner_client.get("/ops/").status_code == 403  # a tenant admin is not a system admin
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    response = admin.get("/ops/")
    assert response.status_code == 200
    assert {c.tenant.slug for c in response.context["configs"]} == {"tenant-a", "tenant-b"}
    panel = admin.get("/ops/", HTTP_HX_REQUEST="true")
    assert b'id="ops-panel"' in panel.content and b"<html" not in panel.content
