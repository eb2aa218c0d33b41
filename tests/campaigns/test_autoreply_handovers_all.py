"""The workspace-wide "Needs a human": the sidebar counts open AI handovers across every campaign of
the workspace (one indexed count), links to one list of them, and Mark handled works from there;
another workspace's handovers are neither counted, listed nor markable."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.ai_replies.selectors import handovers_open_tenant_count
from campaigns.models import AutoReply, AutoReplySource, AutoReplyStatus
from tenants.scoping import tenant_scope
from tests.campaigns.test_autoreply import make_campaign

pytestmark = pytest.mark.django_db


def handover(delivery, text, status=AutoReplyStatus.HANDOVER, **kw):
    with tenant_scope(delivery.tenant_id):
        return AutoReply.objects.create(tenant_id=delivery.tenant_id, campaign_id=delivery.campaign_id,
                                        delivery=delivery, inbound_text=text, received_at=timezone.now(),
                                        status=status, source=AutoReplySource.HANDOVER, **kw)


def list_url(tenant) -> str:
    return f"/t/{tenant.slug}/campaigns/handovers/"


def handled_url(tenant, reply) -> str:
    return f"/t/{tenant.slug}/campaigns/handovers/{reply.pk}/handled/"


def sidebar(html: str) -> str:
    return html.split('<aside class="sidebar"')[1].split("</aside>")[0]


@pytest.fixture
def two_campaigns(tenant_a):
    _, diwali, _ = make_campaign(tenant_a, name="Diwali sale")
    _, loyalty, _ = make_campaign(tenant_a, name="Loyalty points")
    return diwali, loyalty


def test_the_sidebar_counts_open_handovers_of_every_campaign(marketer_client, tenant_a, two_campaigns):
    diwali, loyalty = two_campaigns
    handover(diwali, "can a person call me?")
    handover(loyalty, "agent please")
    handover(loyalty, "old one", handled_at=timezone.now())  # handled: not counted
    handover(loyalty, "price?", status=AutoReplyStatus.SENT)  # answered by the AI: not counted
    nav = sidebar(marketer_client.get(f"/t/{tenant_a.slug}/audiences/").content.decode())
    assert "Needs a human" in nav and '<span class="nav-count" aria-label="2 open">2</span>' in nav
    assert f'href="{list_url(tenant_a)}"' in nav


def test_no_open_handover_no_sidebar_entry(marketer_client, tenant_a, two_campaigns):
    diwali, _ = two_campaigns
    handover(diwali, "old one", handled_at=timezone.now())
    assert "Needs a human" not in sidebar(marketer_client.get(f"/t/{tenant_a.slug}/campaigns/").content.decode())


def test_the_list_shows_each_open_handover_with_its_campaign_oldest_first(marketer_client, tenant_a, two_campaigns):
    diwali, loyalty = two_campaigns
    handover(diwali, "can a person call me?", note="The contact asked for a person.")
    handover(loyalty, "is this a scam?", note="The AI was not sure of the answer.")
    page = marketer_client.get(list_url(tenant_a)).content.decode()
    queue = page.split('id="handovers"')[1]
    assert "2 open" in queue
    assert queue.index("can a person call me?") < queue.index("is this a scam?")
    assert "Diwali sale" in queue and "Loyalty points" in queue and "The AI was not sure of the answer." in queue
    assert f"/campaigns/{loyalty.campaign_id}/#handovers" in queue
    assert queue.count("Mark handled") == 2


def test_mark_handled_from_the_list_takes_it_out_and_lowers_the_count(marketer_client, marketer, tenant_a,
                                                                      two_campaigns):
    diwali, loyalty = two_campaigns
    first, second = handover(diwali, "can a person call me?"), handover(loyalty, "agent please")

    response = marketer_client.post(handled_url(tenant_a, first), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section class="card handover-queue')
    assert "1 open" in body and "can a person call me?" not in body and "Marked handled." in body
    with tenant_scope(tenant_a):
        first.refresh_from_db()
    assert first.handled_at is not None and first.handled_by == marketer

    page = marketer_client.post(handled_url(tenant_a, second), follow=True).content.decode()
    assert "All handled" in page and "Marked handled." in page
    again = marketer_client.post(handled_url(tenant_a, second), HTTP_HX_REQUEST="true").content.decode()
    assert "Someone had already marked it handled." in again
    # The campaign page's own queue agrees.
    detail = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/{diwali.campaign_id}/").content.decode()
    assert "All handled" in detail.split('id="handovers"')[1]


def test_another_workspace_sees_none_of_it(outsider_client, tenant_a, tenant_b, two_campaigns):
    diwali, _ = two_campaigns
    theirs = handover(diwali, "can a person call me?")
    _, own, _ = make_campaign(tenant_b, name="B sale")
    handover(own, "their own question")

    page = outsider_client.get(list_url(tenant_b)).content.decode()
    assert "can a person call me?" not in page and "their own question" in page
    assert '<span class="nav-count" aria-label="1 open">1</span>' in sidebar(page)
    assert outsider_client.post(handled_url(tenant_b, theirs)).status_code == 404
    with tenant_scope(tenant_a):
        theirs.refresh_from_db()
    assert theirs.handled_at is None


def test_analysts_see_the_list_but_cannot_mark_handled(analyst_client, tenant_a, two_campaigns):
    diwali, _ = two_campaigns
    row = handover(diwali, "agent please")
    page = analyst_client.get(list_url(tenant_a)).content.decode()
    assert "agent please" in page and "Mark handled" not in page
    assert analyst_client.post(handled_url(tenant_a, row)).status_code == 403


def test_the_count_is_one_query_on_the_partial_index(tenant_a, two_campaigns):
    diwali, _ = two_campaigns
    handover(diwali, "agent please")
    with tenant_scope(tenant_a), CaptureQueriesContext(connection) as queries:
        assert handovers_open_tenant_count(tenant_id=tenant_a.pk) == 1
    assert len(queries) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'autoreply_open_tenant'")
        [(definition,)] = cursor.fetchall()
    assert "(tenant_id, created_at)" in definition and "handled_at IS NULL" in definition
