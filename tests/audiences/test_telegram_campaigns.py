"""A Telegram campaign's targets: subscribers as direct messages, groups and channels as one
delivery per chat; and the reach figure the wizard shows as groups are ticked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from audiences.models import ConsentState, Contact, TelegramChat
from audiences.selectors_telegram import telegram_reach
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun, DeliveryStatus
from channels.models import ChannelConfig, OutboxMessage
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _redis_clean():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def scoped(tenant_a):
    with tenant_scope(tenant_a):
        config = ChannelConfig(tenant=tenant_a, name="Telegram sandbox", channel="telegram", provider="sandbox",
                               settings={}, rate_per_second=1000, unit_cost=Decimal("0"), is_default=True)
        config.set_secrets({})
        config.save()
        yield tenant_a, config


def chat(tenant, config, chat_id, members, status=TelegramChat.BotStatus.MEMBER, type="supergroup"):
    return TelegramChat.objects.create(tenant=tenant, channel_config=config, chat_id=chat_id, title=f"G{chat_id}",
                                       type=type, member_count=members, bot_status=status)


def subscriber(tenant, n, consent=ConsentState.OPTED_IN):
    return Contact.objects.create(tenant=tenant, first_name=f"S{n}", telegram_chat_id=str(5550000 + n),
                                  consent_telegram=consent)


def launch(tenant, targets) -> CampaignRun:
    campaign = Campaign.objects.create(tenant=tenant, name="Flash sale", channels=["telegram"], audience_everyone=True)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="telegram",
                                   data={"text": "Hi {{ first_name | default: \"there\" }}, 30% off today",
                                         "targets": targets})
    services.campaign_launch(campaign=campaign)
    run = CampaignRun.objects.get(campaign=campaign)
    run_fan_out(run_id=run.pk)
    return run


def test_ticked_groups_get_one_delivery_per_chat_and_subscribers_their_own(scoped):
    tenant, config = scoped
    subscriber(tenant, 1)
    subscriber(tenant, 2, consent=ConsentState.OPTED_OUT)
    chat(tenant, config, -1001, 300)
    chat(tenant, config, -1002, 50, type="channel")
    chat(tenant, config, -1003, 80, status=TelegramChat.BotStatus.KICKED)  # ticked, but the bot is out
    chat(tenant, config, -1004, 10)  # not ticked
    run = launch(tenant, {"subscribers": True, "chat_ids": [-1001, "-1002", -1003, "junk"]})
    rows = {d.address: d for d in run.deliveries.all()}
    assert set(rows) == {"5550001", "5550002", "-1001", "-1002"}
    assert rows["-1001"].contact_id is None and rows["-1001"].status == DeliveryStatus.PENDING
    assert rows["5550002"].status == DeliveryStatus.SKIPPED  # opted out
    run_fan_out(run_id=run.pk)  # a retried fan-out adds nothing
    assert run.deliveries.count() == 4

    with time_machine.travel(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)):
        while run_dispatch(run_id=run.pk, channel="telegram", time_budget=30) == "continue":
            pass
    sent = dict(OutboxMessage.objects.filter(tenant=tenant).values_list("to", "text"))
    assert sent == {"5550001": "Hi S1, 30% off today", "-1001": "Hi there, 30% off today",
                    "-1002": "Hi there, 30% off today"}


def test_groups_only_sends_no_direct_messages(scoped):
    tenant, config = scoped
    subscriber(tenant, 1)
    chat(tenant, config, -1001, 300)
    run = launch(tenant, {"subscribers": False, "chat_ids": [-1001]})
    assert list(run.deliveries.values_list("address", flat=True)) == ["-1001"]


def test_a_campaign_without_targets_messages_its_subscribers_as_before(scoped):
    tenant, config = scoped
    subscriber(tenant, 1)
    chat(tenant, config, -1001, 300)
    campaign = Campaign.objects.create(tenant=tenant, name="Old", channels=["telegram"], audience_everyone=True)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="telegram", data={"text": "Hello"})
    services.campaign_launch(campaign=campaign)
    run = CampaignRun.objects.get(campaign=campaign)
    run_fan_out(run_id=run.pk)
    assert list(run.deliveries.values_list("address", flat=True)) == ["5550001"]


def test_reach_adds_subscribers_and_members_of_ticked_groups_without_the_bot(scoped):
    tenant, config = scoped
    for n in range(3):
        subscriber(tenant, n)
    subscriber(tenant, 9, consent=ConsentState.OPTED_OUT)
    chat(tenant, config, -1001, 301)
    chat(tenant, config, -1002, 51, type="channel")
    chat(tenant, config, -1003, 999, status=TelegramChat.BotStatus.LEFT)
    reach = telegram_reach(tenant_id=tenant.pk, subscribers=True, chat_ids=[-1001, -1002, -1003])
    assert reach == {"subscribers": 3, "members": 350, "chats": 2, "total": 353}
    assert telegram_reach(tenant_id=tenant.pk, subscribers=False, chat_ids=[])["total"] == 0


def test_the_reach_partial_updates_as_groups_are_ticked(marketer_client, scoped):
    tenant, config = scoped
    subscriber(tenant, 1)
    chat(tenant, config, -1001, 301)
    url = tenant_reverse(tenant, "audiences:telegram_reach")
    response = marketer_client.get(url, {"tg_subscribers": "on", "tg_chat_ids": ["-1001"]}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith('<p id="tg-reach"') and "<strong>301</strong>" in html
    assert "1 subscriber and 300 members of 1 group or channel" in html
    full = marketer_client.get(url).content.decode()
    assert 'name="tg_chat_ids" value="-1001"' in full and "G-1001" in full


def test_the_reach_of_another_tenants_groups_is_zero(outsider_client, scoped, tenant_b):
    tenant, config = scoped
    chat(tenant, config, -1001, 301)
    response = outsider_client.get(tenant_reverse(tenant_b, "audiences:telegram_reach"),
                                   {"tg_chat_ids": ["-1001"]}, HTTP_HX_REQUEST="true")
    assert "<strong>0</strong>" in response.content.decode()
