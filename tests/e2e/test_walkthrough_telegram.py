"""Walkthrough: a marketer ticks Telegram groups on the wizard's Audience step and watches the reach change."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from audiences.models import ConsentState, Contact, TelegramChat
from campaigns.models import Campaign, CampaignContent
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import login


def test_ticking_telegram_groups_updates_the_reach_and_saves_the_targets(page, tenant_a, marketer):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Telegram sandbox", channel="telegram", provider="sandbox",
                               settings={}, rate_per_second=50, unit_cost=Decimal("0"), is_default=True)
        config.set_secrets({})
        config.save()
        TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1001, title="Pune deals",
                                    type="supergroup", member_count=301)
        TelegramChat.objects.create(tenant=tenant_a, channel_config=config, chat_id=-1002, title="Acme offers",
                                    type="channel", member_count=1201)
        Contact.objects.bulk_create([Contact(tenant=tenant_a, first_name=f"S{n}", telegram_chat_id=str(5550000 + n),
                                             consent_telegram=ConsentState.OPTED_IN) for n in range(4)])
        campaign = Campaign.objects.create(tenant=tenant_a, name="Telegram drop", channels=["telegram"])
        CampaignContent.objects.create(tenant=tenant_a, campaign=campaign, channel="telegram", data={"text": "Hi!"})

    login(page, marketer.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/edit/audience/")
    reach = page.locator("#tg-reach")
    page.check("input[name=tg_subscribers][value=all]")
    expect(reach).to_contain_text("4 people can be reached: 4 subscribers")
    page.get_by_label("Pune deals").check()
    expect(reach).to_contain_text("304 people can be reached")
    page.get_by_label("Acme offers").check()
    expect(reach).to_contain_text("1,504 people can be reached")
    expect(page.locator("#audience-counts")).to_contain_text("1504")
    page.check("input[name=tg_subscribers][value=none]")
    expect(reach).to_contain_text("1,500 people can be reached: 0 subscribers")

    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/edit/budget/")
    with tenant_scope(tenant_a):
        targets = CampaignContent.objects.get(campaign=campaign).data["targets"]
    assert targets == {"subscribers": "none", "chat_ids": [-1001, -1002]}
