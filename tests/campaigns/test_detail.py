"""The campaign page: progress polling, per-channel figures, skip reasons, members grid, export,
lifecycle buttons, and tenant isolation of every campaign URL."""

from __future__ import annotations

import csv
import io
import re

import pytest

from campaigns.models import Campaign, CampaignStatus, DeliveryStatus, RunStatus, SkipReason
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import campaign, contact, delivery, run

S = CampaignStatus


def url(c, suffix: str = "") -> str:
    return f"/t/tenant-a/campaigns/{c.pk}/{suffix}"


@pytest.fixture
def sending(tenant_a):
    """An active SMS + email campaign mid-run with a few deliveries."""
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Monsoon offer", status=S.ACTIVE, channels=("sms", "email"))
        r = run(c, counters={"sms": {"targeted": 4, "sent": 2, "delivered": 1, "failed": 1, "skipped": 1},
                             "email": {"targeted": 1, "skipped": 0}})
        asha = contact(tenant_a, "Asha", phone="+919800000001")
        ravi = contact(tenant_a, "Ravi", phone="+919800000002", email="ravi@example.com")
        mira = contact(tenant_a, "Mira", phone="+919800000003")
        dev = contact(tenant_a, "Dev", phone="")
        delivery(r, asha, status=DeliveryStatus.DELIVERED)
        delivery(r, ravi, status=DeliveryStatus.SENT)
        delivery(r, mira, status=DeliveryStatus.FAILED, error_code="30003", error_message="Unreachable handset",
                 attempts=3)
        delivery(r, dev, status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.NO_ADDRESS, address="")
        delivery(r, ravi, channel="email", status=DeliveryStatus.PENDING, address="ravi@example.com")
    return c, r


def test_the_page_shows_summary_progress_and_skip_reasons(marketer_client, sending):
    c, _r = sending
    response = marketer_client.get(url(c))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Monsoon offer" in body and "Sending" in body
    assert 'hx-trigger="every 2s"' in body  # polling while the run is in flight
    sms = response.context["progress"].channels[0]
    assert (sms.targeted, sms.sent, sms.delivered, sms.failed, sms.skipped) == (4, 2, 1, 1, 1)
    assert "No address for this channel <strong>1</strong>" in body
    # Buttons follow the lifecycle: an active campaign can pause, cancel and retry its failure.
    for label in ("Pause", "Cancel campaign", "Retry failed", "Clone"):
        assert label in body
    assert ">Resume<" not in body and ">Delete<" not in body and ">Edit<" not in body


def test_progress_partial_polls_while_sending_and_stops_when_the_run_is_final(marketer_client, sending):
    c, r = sending
    live = marketer_client.get(url(c, "progress/"), HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    with tenant_scope(c.tenant):
        r.status = RunStatus.COMPLETED
        r.save()
    final = marketer_client.get(url(c, "progress/"), HTTP_HX_REQUEST="true")
    # 286 = htmx's "stop polling"; the final figures still arrive in the body.
    assert final.status_code == 286
    assert "hx-trigger" not in final.content.decode() and "Completed" in final.content.decode()


def test_a_paused_run_stops_polling_until_resumed(marketer_client, sending):
    c, r = sending
    with tenant_scope(c.tenant):
        r.status = RunStatus.PAUSED
        r.save()
    assert marketer_client.get(url(c, "progress/"), HTTP_HX_REQUEST="true").status_code == 286


def test_a_draft_does_not_poll(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Draft one")
    body = marketer_client.get(url(c)).content.decode()
    assert "hx-trigger" not in body.split('id="members"')[0] and "Nothing sent yet" in body
    assert ">Edit<" in body and ">Delete<" in body and ">Pause<" not in body
    assert "Hi from Draft one" in body  # its content, summarised
    assert 'id="members"' not in body  # nothing to list before a run
    assert marketer_client.get(url(c, "progress/"), HTTP_HX_REQUEST="true").status_code == 286


def _members(client, c, **query):
    """First names in the members partial, in order (partials carry no test context: read the HTML)."""
    response = client.get(url(c, "members/"), query, HTTP_HX_REQUEST="true")
    return re.findall(r"<td>([^<]+) Rao</td>", response.content.decode()), response


def _cursor(response) -> int | None:
    found = re.search(r'hx-get="[^"]*after=(\d+)"', response.content.decode())
    return int(found.group(1)) if found else None


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["Asha", "Ravi", "Mira", "Dev", "Ravi"]),
    ({"status": "failed"}, ["Mira"]),
    ({"channel": "email"}, ["Ravi"]),
    ({"q": "ravi@"}, ["Ravi", "Ravi"]),
    ({"q": "+919800000003"}, ["Mira"]),
    ({"status": "bogus"}, ["Asha", "Ravi", "Mira", "Dev", "Ravi"]),
])
def test_members_filters_and_search(marketer_client, sending, query, expected):
    assert _members(marketer_client, sending[0], **query)[0] == expected


def test_members_grid_shows_each_columns_value(marketer_client, sending):
    _names, response = _members(marketer_client, sending[0], status="failed")
    body = response.content.decode()
    assert "+919800000003" in body and "mira@example.com" in body and "Unreachable handset" in body
    assert "30003" in body
    assert "members.csv?status=failed" in body  # the export follows the filters


def test_members_keyset_pages_follow_the_delivery_id(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Big one", status=S.COMPLETED)
        r = run(c, status=RunStatus.COMPLETED)
        people = [contact(tenant_a, f"P{i:03d}", phone=f"+9198000{i:05d}") for i in range(120)]
        for p in people:
            delivery(r, p)
    names, first = _members(marketer_client, c)
    cursor = _cursor(first)
    assert len(names) == 50 and cursor
    names2, second = _members(marketer_client, c, after=cursor)
    assert names2[0] == "P050" and _cursor(second)
    names3, third = _members(marketer_client, c, after=_cursor(second))
    assert len(names3) == 20 and _cursor(third) is None
    assert len(set(names + names2 + names3)) == 120
    # The "Load more" row carries the cursor, and its partial appends rows only.
    assert f"after={cursor}" in first.content.decode()
    assert "<table" not in second.content.decode()


def test_members_without_htmx_go_back_to_the_page(marketer_client, sending):
    response = marketer_client.get(url(sending[0], "members/"), {"status": "failed"})
    assert response.status_code == 302 and response["Location"].endswith("?status=failed#members")


def test_members_export_streams_filtered_rows_with_formulas_neutralized(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Export me", status=S.COMPLETED)
        r = run(c, status=RunStatus.COMPLETED)
        delivery(r, contact(tenant_a, "=cmd|' /C calc'!A0", phone="+919800000009"), status=DeliveryStatus.FAILED,
                 error_message="-boom")
        delivery(r, contact(tenant_a, "Asha", phone="+919800000001"))
    response = marketer_client.get(url(c, "members.csv"), {"status": "failed"})
    assert response.streaming and response["Content-Disposition"] == 'attachment; filename="export-me-members.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:6] == ["Contact", "Phone", "Email", "Channel", "Address", "Status"]
    assert len(rows) == 2
    assert rows[1][0].startswith("'=cmd") and rows[1][-1] == "'-boom" and rows[1][1] == "+919800000009"


@pytest.mark.parametrize(("action", "status", "expected_status", "message"), [
    ("pause", S.ACTIVE, S.PAUSED, "is paused"),
    ("pause", S.COMPLETED, S.COMPLETED, "Can't pause “Camp”: it is completed."),
    ("resume", S.DRAFT, S.DRAFT, "Can't resume “Camp”: it is draft."),
    ("resume", S.ACTIVE, S.ACTIVE, "Can't resume “Camp”: it is active."),
    ("delete", S.ACTIVE, S.ACTIVE, "cancel it before archiving it"),
    ("delete", S.COMPLETED, S.COMPLETED, "Archived “Camp”"),
])
def test_actions_follow_the_lifecycle_and_explain_refusals(marketer_client, tenant_a, action, status,
                                                           expected_status, message):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Camp", status=status)
    response = marketer_client.post(url(c, f"do/{action}/"), follow=True)
    assert message in " ".join(str(m) for m in response.context["messages"])
    with tenant_scope(tenant_a):
        c.refresh_from_db()
    assert c.status == expected_status


def test_deleting_a_draft_returns_to_the_grid(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Short lived")
    response = marketer_client.post(url(c, "do/delete/"))
    assert response["Location"] == "/t/tenant-a/campaigns/"
    with tenant_scope(tenant_a):
        assert not Campaign.objects.filter(pk=c.pk).exists()


def test_clone_creates_a_draft_and_opens_it(marketer_client, sending):
    c, _r = sending
    response = marketer_client.post(url(c, "do/clone/"))
    with tenant_scope(c.tenant):
        copy = Campaign.objects.get(name="Copy of Monsoon offer")
    assert copy.status == S.DRAFT and str(copy.pk) in response["Location"]


def test_unknown_action_is_404(marketer_client, sending):
    assert marketer_client.post(url(sending[0], "do/explode/")).status_code == 404


def test_analyst_reads_but_cannot_act(analyst_client, sending):
    c, _r = sending
    body = analyst_client.get(url(c)).content.decode()
    assert "Monsoon offer" in body and ">Pause<" not in body
    assert analyst_client.post(url(c, "do/pause/")).status_code == 403
    with tenant_scope(c.tenant):
        c.refresh_from_db()
    assert c.status == S.ACTIVE


CAMPAIGN_URLS = [("get", ""), ("get", "progress/"), ("get", "members/"), ("get", "members.csv"),
                 ("post", "star/"), ("post", "do/pause/"), ("post", "do/clone/"), ("post", "do/delete/")]


@pytest.mark.parametrize(("method", "suffix"), CAMPAIGN_URLS)
def test_another_tenants_campaign_is_404_everywhere(outsider_client, marketer_client, sending, tenant_b, method,
                                                    suffix):
    c, _r = sending
    # The outsider uses their own workspace's URL with tenant A's campaign id.
    response = getattr(outsider_client, method)(f"/t/tenant-b/campaigns/{c.pk}/{suffix}", HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    # And a member of A never reaches B's campaigns through A's URL.
    with tenant_scope(tenant_b):
        theirs = campaign(tenant_b, "B's campaign", status=S.ACTIVE)
    response = getattr(marketer_client, method)(f"/t/tenant-a/campaigns/{theirs.pk}/{suffix}", HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    with tenant_scope(tenant_b):
        theirs.refresh_from_db()
        assert theirs.status == S.ACTIVE and not theirs.starred
