"""The campaign grid: filters, search, sort, star, progress from counters, bulk actions, export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, RunStatus
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import campaign, run

S = CampaignStatus
URL = "/t/tenant-a/campaigns/"


def names(response) -> list[str]:
    return [row["campaign"].name for row in response.context["rows"]]


@pytest.fixture
def grid(tenant_a):
    """Four campaigns of tenant A (and one of tenant B that must never show)."""
    now = timezone.now()
    with tenant_scope(tenant_a):
        out = {
            "alpha": campaign(tenant_a, "Alpha launch", status=S.DRAFT, channels=("email",), type="drip"),
            "beta": campaign(tenant_a, "Beta flash sale", status=S.ACTIVE, channels=("sms", "whatsapp"),
                             scheduled_at=now + dt.timedelta(days=2)),
            "gamma": campaign(tenant_a, "Gamma survey", status=S.COMPLETED, channels=("sms",),
                              scheduled_at=now - dt.timedelta(days=3)),
            "delta": campaign(tenant_a, "Delta reminder", status=S.SCHEDULED, channels=("voice",),
                              scheduled_at=now + dt.timedelta(days=1), type="triggered"),
        }
        for i, key in enumerate(("alpha", "beta", "gamma", "delta")):
            # Distinct creation days, oldest first: alpha 40 days ago ... delta 10 days ago.
            Campaign.objects.filter(pk=out[key].pk).update(created_at=now - dt.timedelta(days=40 - 10 * i))
    return out


@pytest.fixture
def foreign(tenant_b):
    with tenant_scope(tenant_b):
        return campaign(tenant_b, "Other tenant sale", status=S.ACTIVE)


def test_the_grid_lists_only_this_tenants_campaigns_most_recent_first(marketer_client, grid, foreign):
    response = marketer_client.get(URL)
    assert response.status_code == 200
    assert names(response) == ["Delta reminder", "Gamma survey", "Beta flash sale", "Alpha launch"]
    assert "Other tenant sale" not in response.content.decode()


@pytest.mark.parametrize(("query", "expected"), [
    ({"type": "drip"}, ["Alpha launch"]),
    ({"channel": "sms"}, ["Gamma survey", "Beta flash sale"]),
    ({"status": "scheduled"}, ["Delta reminder"]),
    ({"q": "FLASH"}, ["Beta flash sale"]),
    ({"from": "", "to": ""}, ["Delta reminder", "Gamma survey", "Beta flash sale", "Alpha launch"]),
    ({"type": "bogus", "channel": "fax", "status": "nope"},
     ["Delta reminder", "Gamma survey", "Beta flash sale", "Alpha launch"]),
])
def test_filters_and_search(marketer_client, grid, query, expected):
    assert names(marketer_client.get(URL, query)) == expected


def test_date_range_on_created_or_scheduled(marketer_client, grid):
    today = timezone.localdate()
    created = {"from": (today - dt.timedelta(days=25)).isoformat(), "to": (today - dt.timedelta(days=15)).isoformat()}
    assert names(marketer_client.get(URL, created)) == ["Gamma survey"]
    scheduled = {"date_field": "scheduled", "from": today.isoformat()}
    assert names(marketer_client.get(URL, scheduled)) == ["Delta reminder", "Beta flash sale"]


@pytest.mark.parametrize(("sort", "expected"), [
    ("oldest", ["Alpha launch", "Beta flash sale", "Gamma survey", "Delta reminder"]),
    ("name", ["Alpha launch", "Beta flash sale", "Delta reminder", "Gamma survey"]),
    ("-name", ["Gamma survey", "Delta reminder", "Beta flash sale", "Alpha launch"]),
    # Earliest schedule first, unscheduled drafts last.
    ("schedule", ["Gamma survey", "Delta reminder", "Beta flash sale", "Alpha launch"]),
    # Pipeline order: active, paused, scheduled, draft, completed ...
    ("status", ["Beta flash sale", "Delta reminder", "Alpha launch", "Gamma survey"]),
])
def test_sorts(marketer_client, grid, sort, expected):
    assert names(marketer_client.get(URL, {"sort": sort})) == expected


def test_starred_campaigns_come_first_whatever_the_sort(marketer_client, grid):
    response = marketer_client.post(f"{URL}{grid['alpha'].pk}/star/", {"starred": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "is-starred" in response.content.decode()
    assert names(marketer_client.get(URL, {"sort": "-name"}))[0] == "Alpha launch"
    marketer_client.post(f"{URL}{grid['alpha'].pk}/star/", {"starred": "0"})
    assert names(marketer_client.get(URL, {"sort": "-name"}))[0] == "Gamma survey"


def test_progress_is_read_from_the_counters_summed_over_runs(marketer_client, grid, django_assert_max_num_queries):
    with tenant_scope(grid["beta"].tenant):
        first = run(grid["beta"], status=RunStatus.COMPLETED, when=timezone.now() - dt.timedelta(days=1),
                    counters={"sms": {"targeted": 100, "sent": 80, "skipped": 10},
                              "whatsapp": {"targeted": 100, "sent": 50, "skipped": 30}})
        assert first
        run(grid["beta"], counters={"sms": {"targeted": 20, "sent": 20}})
    # A constant number of queries, whatever the number of deliveries (none are counted).
    with django_assert_max_num_queries(14):
        response = marketer_client.get(URL, {"q": "Beta"})
    row = response.context["rows"][0]
    # Target is who could be reached: 220 targeted - 40 skipped.
    assert (row["sent"], row["target"], row["skipped"], row["percent"]) == (150, 180, 40, 83)
    assert "150</strong> / 180 · 83%" in response.content.decode()


def test_pagination(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        for i in range(30):
            campaign(tenant_a, f"Campaign {i:02d}")
    first = marketer_client.get(URL, {"sort": "name"})
    second = marketer_client.get(URL, {"sort": "name", "page": 2})
    assert len(first.context["rows"]) == 25 and len(second.context["rows"]) == 5
    assert names(second)[0] == "Campaign 25"
    assert "Page 1 of 2" in first.content.decode()


def test_empty_state_leads_to_a_new_campaign(marketer_client, tenant_a):
    body = marketer_client.get(URL).content.decode()
    assert "No campaigns yet" in body
    assert "/t/tenant-a/campaigns/templates/#starters" in body  # starters work even before the wizard


def test_no_match_is_not_the_empty_state(marketer_client, grid):
    body = marketer_client.get(URL, {"q": "zzz"}).content.decode()
    assert "No campaign matches these filters" in body and "No campaigns yet" not in body


def test_bulk_pause_reports_refusals_per_campaign_and_pauses_the_rest(marketer_client, grid):
    ids = [str(grid[k].pk) for k in ("alpha", "beta", "delta")]
    response = marketer_client.post(f"{URL}bulk/", {"ids": ids, "action": "pause"}, follow=True)
    text = [str(m) for m in response.context["messages"]]
    assert any("2 done" in m and "Beta flash sale" in m and "Delta reminder" in m for m in text)
    assert any("Can't pause “Alpha launch”: it is draft." in m for m in text)
    with tenant_scope(grid["beta"].tenant):
        statuses = dict(Campaign.objects.values_list("name", "status"))
    assert statuses["Beta flash sale"] == S.PAUSED and statuses["Delta reminder"] == S.PAUSED
    assert statuses["Alpha launch"] == S.DRAFT and statuses["Gamma survey"] == S.COMPLETED


def test_bulk_delete_deletes_drafts_archives_sent_and_refuses_running(marketer_client, grid):
    ids = [str(grid[k].pk) for k in ("alpha", "beta", "gamma")]
    response = marketer_client.post(f"{URL}bulk/", {"ids": ids, "action": "delete"}, follow=True)
    text = " ".join(str(m) for m in response.context["messages"])
    assert "“Alpha launch” deleted" in text and "“Gamma survey” archived" in text
    assert "“Beta flash sale” is active: cancel it before archiving it." in text
    with tenant_scope(grid["beta"].tenant):
        assert not Campaign.objects.filter(pk=grid["alpha"].pk).exists()
        assert Campaign.objects.get(pk=grid["gamma"].pk).archived_at is not None
        assert Campaign.objects.get(pk=grid["beta"].pk).archived_at is None
    # Archived campaigns leave the grid but stay reachable through the Archived filter.
    assert "Gamma survey" not in names(marketer_client.get(URL))
    assert names(marketer_client.get(URL, {"status": "archived"})) == ["Gamma survey"]


def test_bulk_duplicate(marketer_client, grid):
    marketer_client.post(f"{URL}bulk/", {"ids": [str(grid["gamma"].pk)], "action": "duplicate"})
    with tenant_scope(grid["gamma"].tenant):
        copy = Campaign.objects.get(name="Copy of Gamma survey")
    assert copy.status == S.DRAFT and copy.channels == ["sms"]


def test_bulk_actions_ignore_another_tenants_campaigns(marketer_client, grid, foreign):
    marketer_client.post(f"{URL}bulk/", {"ids": [str(foreign.pk)], "action": "pause"})
    with tenant_scope(foreign.tenant):
        foreign.refresh_from_db()
    assert foreign.status == S.ACTIVE


def test_bulk_without_selection_or_with_bad_input(marketer_client, grid):
    response = marketer_client.post(f"{URL}bulk/", {"action": "pause"}, follow=True)
    assert "Select at least one campaign" in response.content.decode()
    response = marketer_client.post(f"{URL}bulk/", {"ids": [str(grid["beta"].pk)], "action": ""}, follow=True)
    assert "Choose what to do with the selected campaigns" in response.content.decode()
    assert marketer_client.post(f"{URL}bulk/", {"ids": ["not-a-uuid"], "action": "pause"}).status_code == 400
    assert marketer_client.post(f"{URL}bulk/", {"ids": [str(grid["beta"].pk)], "action": "explode"}).status_code == 400


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_export_of_selected_campaigns_neutralizes_formulas(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        evil = campaign(tenant_a, '=HYPERLINK("http://evil.example","x")', status=S.COMPLETED)
        plain = campaign(tenant_a, "Plain", status=S.DRAFT)
        campaign(tenant_a, "Not selected")
    response = marketer_client.post(f"{URL}bulk/", {"ids": [str(evil.pk), str(plain.pk)], "action": "export"})
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][:5] == ["Name", "Type", "Purpose", "Channels", "Status"]
    exported = {r[0] for r in rows[1:]}
    assert exported == {"'=HYPERLINK(\"http://evil.example\",\"x\")", "Plain"}


def test_export_follows_the_current_filters(marketer_client, grid):
    rows = _csv(marketer_client.get(f"{URL}export.csv", {"channel": "sms"}))
    assert sorted(r[0] for r in rows[1:]) == ["Beta flash sale", "Gamma survey"]


def test_analyst_sees_the_grid_but_cannot_act(analyst_client, grid):
    body = analyst_client.get(URL).content.decode()
    assert "Beta flash sale" in body and 'name="ids"' not in body
    response = analyst_client.post(f"{URL}bulk/", {"ids": [str(grid["beta"].pk)], "action": "pause"})
    assert response.status_code == 403
    assert analyst_client.post(f"{URL}{grid['beta'].pk}/star/", {"starred": "1"}).status_code == 403
    with tenant_scope(grid["beta"].tenant):
        grid["beta"].refresh_from_db()
    assert grid["beta"].status == S.ACTIVE and not grid["beta"].starred


def test_starring_another_tenants_campaign_is_404(marketer_client, foreign):
    assert marketer_client.post(f"{URL}{foreign.pk}/star/", {"starred": "1"}).status_code == 404


def test_the_flag_off_shows_an_explanation(marketer_client, tenant_a):
    tenant_a.campaigns_enabled = False
    tenant_a.save()
    response = marketer_client.get(URL)
    assert response.status_code == 200 and "campaigns_enabled" in response.content.decode()
