"""Walkthrough: a marketer logs in and watches a campaign go out through real workers."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.models import Campaign, CampaignContent
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import login


def test_a_launched_campaign_reaches_every_reachable_contact_and_shows_in_the_outbox(page, tenant_a, marketer):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Email sandbox", channel="email", provider="sandbox",
                               settings={}, rate_per_second=200, unit_cost=Decimal("0.01"), is_default=True)
        config.set_secrets({})
        config.save()
        Contact.objects.bulk_create([
            Contact(tenant=tenant_a, first_name=f"Asha{n}", email=f"asha{n}@example.com",
                    consent_email=ConsentState.OPTED_OUT if n == 0 else ConsentState.OPTED_IN)
            for n in range(25)])
        campaign = Campaign.objects.create(tenant=tenant_a, name="Monsoon sale", channels=["email"],
                                           audience_everyone=True)
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="email",
                                       data={"subject": "Monsoon deals for {{ first_name }}", "html": "<p>Hi!</p>"})

    login(page, marketer.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/t/tenant-a/"))
    with tenant_scope(tenant_a):
        services.campaign_launch(campaign=campaign, actor=marketer)

    # The campaign page follows the run until it is final; then the outbox holds every message.
    page.goto(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/")
    expect(page.get_by_test_id("progress-percent")).to_have_text("100%", timeout=30_000)
    expect(page.get_by_test_id("run-status")).to_have_text("Completed")
    page.goto(f"/t/{tenant_a.slug}/channels/outbox/")
    expect(page.get_by_text("Monsoon deals for Asha24")).to_be_visible()
    expect(page.get_by_text("Monsoon deals for Asha0")).to_have_count(0)  # opted out
    with tenant_scope(tenant_a):
        campaign.refresh_from_db()
        assert campaign.status == "completed"
