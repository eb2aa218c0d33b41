# ruff: noqa: F811  (pytest fixtures imported from test_autoreply are used as arguments)
"""Handovers of AI auto-replies reach a person: the campaign's creator is emailed (Django's email
backend; locmem outbox in tests), the campaign page shows a "Needs a human" queue, the grid a
badge with the count, and marking one handled takes it out. Inbound replies are signed Meta
webhooks answered through the fake OpenAI endpoint, as in test_autoreply."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from campaigns.ai_replies import services
from campaigns.models import AutoReply, Campaign
from tenants.models import Membership, Role
from tenants.scoping import tenant_scope
from tests.campaigns.test_autoreply import (  # noqa: F401
    add_trigger,
    deliver,
    eager_tasks,
    make_campaign,
    openai_key,
    replies,
    set_instruction,
)
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def detail(client, campaign) -> str:
    return client.get(f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/").content.decode()


def handled_url(campaign, reply) -> str:
    return f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/ai/handovers/{reply.pk}/handled/"


@pytest.fixture
def campaign_by_marketer(tenant_a, marketer):
    marketer.email = "meera@acme.example"
    marketer.save()
    campaign, delivery, config = make_campaign(tenant_a)
    with tenant_scope(tenant_a):
        Campaign.objects.filter(pk=campaign.pk).update(created_by=marketer)
    campaign.created_by = marketer
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    return campaign, config


def test_a_handover_emails_the_campaigns_creator_with_what_they_wrote_and_a_link(tenant_a, hub, deliver,
                                                                                  campaign_by_marketer, settings):
    settings.SITE_URL = "https://relay.example"
    campaign, config = campaign_by_marketer
    deliver(config, "I want to talk to a human about my order")

    [email] = mail.outbox
    assert email.to == ["meera@acme.example"]
    assert email.subject == "Needs a human: a reply to “Diwali sale”"
    assert "I want to talk to a human about my order" in email.body
    assert "The contact asked for a person." in email.body and "+919800000001" in email.body
    assert f"https://relay.example/t/{tenant_a.slug}/campaigns/{campaign.pk}/#handovers" in email.body
    [row] = replies(tenant_a)
    assert row.notified_at is not None


def test_answered_replies_send_no_email(tenant_a, hub, deliver, campaign_by_marketer):
    _, config = campaign_by_marketer
    deliver(config, "price?")
    assert [r.status for r in replies(tenant_a)] == ["sent"] and mail.outbox == []


def test_a_handover_is_announced_once_however_often_it_is_processed(tenant_a, hub, deliver, campaign_by_marketer):
    _, config = campaign_by_marketer
    deliver(config, "HANDOVER")  # the fake model answers HANDOVER: the AI was unsure
    [row] = replies(tenant_a)
    with tenant_scope(tenant_a):
        assert services.handover_notify(auto_reply=row) is False
    assert len(mail.outbox) == 1 and "The AI was not sure of the answer." in mail.outbox[0].body


def test_the_campaign_page_and_grid_show_open_handovers_until_marked_handled(tenant_a, hub, deliver, marketer,
                                                                             marketer_client, campaign_by_marketer):
    campaign, config = campaign_by_marketer
    deliver(config, "can a person call me?", message_id="wamid.1")
    deliver(config, "let me speak to an agent", message_id="wamid.2")
    deliver(config, "price?", message_id="wamid.3")

    page = detail(marketer_client, campaign)
    queue = page.split('id="handovers"')[1].split("</section>")[0]
    assert "2 open" in queue and "can a person call me?" in queue and "let me speak to an agent" in queue
    assert "From ₹499." not in queue  # answered replies are not in the queue
    assert "2 need a human" in page  # the badge at the top of the page
    grid = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/").content.decode()
    assert "2 need a human" in grid and f"/campaigns/{campaign.pk}/#handovers" in grid

    first = next(r for r in replies(tenant_a) if r.inbound_text == "can a person call me?")
    response = marketer_client.post(handled_url(campaign, first), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section class="card handover-queue')
    assert "1 open" in body and "can a person call me?" not in body and "Marked handled." in body
    with tenant_scope(tenant_a):
        first = AutoReply.objects.get(pk=first.pk)
    assert first.handled_at is not None and first.handled_by == marketer
    assert "1 needs a human" in marketer_client.get(f"/t/{tenant_a.slug}/campaigns/").content.decode()

    second = next(r for r in replies(tenant_a) if r.inbound_text == "let me speak to an agent")
    response = marketer_client.post(handled_url(campaign, second), follow=True)
    page = response.content.decode()
    assert "All handled" in page and "need a human" not in page
    again = marketer_client.post(handled_url(campaign, second), HTTP_HX_REQUEST="true").content.decode()
    assert "Someone had already marked it handled." in again
    assert "need a human" not in marketer_client.get(f"/t/{tenant_a.slug}/campaigns/").content.decode()


def test_analysts_outsiders_and_other_campaigns_cannot_mark_handovers(tenant_a, tenant_b, hub, deliver,
                                                                      analyst_client, outsider_client,
                                                                      marketer_client, campaign_by_marketer):
    campaign, config = campaign_by_marketer
    deliver(config, "agent please")
    [row] = replies(tenant_a)
    assert analyst_client.post(handled_url(campaign, row)).status_code == 403
    assert outsider_client.post(handled_url(campaign, row).replace(f"/t/{tenant_a.slug}/", f"/t/{tenant_b.slug}/")
                                ).status_code == 404
    other, _, _ = make_campaign(tenant_a, name="Another campaign")
    assert marketer_client.post(handled_url(other, row)).status_code == 404
    assert "Mark handled" not in detail(analyst_client, campaign)  # analysts see the queue, not the button
    assert "agent please" in detail(analyst_client, campaign)
    with tenant_scope(tenant_a):
        assert AutoReply.objects.get(pk=row.pk).handled_at is None


def test_without_a_reachable_creator_the_workspace_admins_are_told(tenant_a, hub, deliver, owner):
    owner.email = "owner@acme.example"
    owner.save()
    gone = get_user_model().objects.create_user("former", email="former@acme.example", password="x-12345-secure")
    campaign, _, config = make_campaign(tenant_a)
    with tenant_scope(tenant_a):
        Campaign.objects.filter(pk=campaign.pk).update(created_by=gone)  # no longer a member here
        assert Membership.objects.filter(tenant=tenant_a, role=Role.ADMIN, user=owner).exists()
    set_instruction(campaign, "Only talk about the lamp sale.")
    deliver(config, "I need a human")
    [email] = mail.outbox
    assert email.to == ["owner@acme.example"]


def test_a_mail_server_failure_leaves_the_handover_in_the_queue(tenant_a, hub, deliver, campaign_by_marketer,
                                                                marketer_client, monkeypatch):
    def refuse(**kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(services, "send_mail", refuse)
    campaign, config = campaign_by_marketer
    deliver(config, "a human please")
    [row] = replies(tenant_a)
    assert row.status == "handover" and mail.outbox == []
    assert "a human please" in detail(marketer_client, campaign).split('id="handovers"')[1]


def test_the_demo_has_a_trained_campaign_with_open_handovers(client):
    from django.core.management import call_command

    from tenants.models import Tenant

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    acme = Tenant.objects.get(slug="acme")
    client.force_login(get_user_model().objects.get(username="acme-marketer"))
    grid = client.get(f"/t/{acme.slug}/campaigns/").content.decode()
    assert "2 need a human" in grid
    with tenant_scope(acme):
        campaign = Campaign.objects.get(tenant=acme, name="Loyalty points reminder")
    page = detail(client, campaign)
    assert "2 open" in page and "Mark handled" in page and "Trained" in page
