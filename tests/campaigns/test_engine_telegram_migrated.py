"""A Telegram group upgraded to a supergroup after a campaign was queued: Telegram answers the post
to the old chat id with 400 and the new id (parameters.migrate_to_chat_id). The engine re-sends
the delivery once to the new id instead of failing it, never twice to the same chat, and the
stored group follows the new id. Against the fake Bot API over HTTP."""

from __future__ import annotations

import pytest

from audiences.models import TelegramChat
from campaigns import services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun, DeliveryStatus
from tenants.scoping import tenant_scope
from tests.channels.conftest import create_config
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

OLD, NEW = -100555, -1001234555


@pytest.fixture(autouse=True)
def _redis_clean():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def bot(tenant_a):
    config = create_config(tenant_a, provider="telegram", channel="telegram", is_default=True, rate=1000,
                           secrets={"bot_token": "123456:ABC-test", "webhook_secret": "s3cret"})
    with tenant_scope(tenant_a):
        yield tenant_a, config


def group(tenant, config, chat_id, **kw):
    return TelegramChat.objects.create(tenant=tenant, channel_config=config, chat_id=chat_id, title=f"G{chat_id}",
                                       type=kw.pop("type", "group"), member_count=40, **kw)


def send_campaign(tenant, chat_ids) -> CampaignRun:
    campaign = Campaign.objects.create(tenant=tenant, name="Flash sale", channels=["telegram"], audience_everyone=True)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="telegram",
                                   data={"text": "30% off today", "targets": {"subscribers": "none",
                                                                              "chat_ids": chat_ids}})
    services.campaign_launch(campaign=campaign)
    run = CampaignRun.objects.get(campaign=campaign)
    run_fan_out(run_id=run.pk)
    while run_dispatch(run_id=run.pk, channel="telegram", time_budget=30) == "continue":
        pass
    return run


def posts(hub) -> list[tuple[int, int]]:
    return [(c["params"]["chat_id"], c["answered"]) for c in hub.received("telegram", kind="call", method="sendMessage")]


def test_a_post_to_an_upgraded_group_goes_to_the_supergroup_once(bot, hub):
    tenant, config = bot
    stored = group(tenant, config, OLD)
    hub.configure("telegram", migrated_chats={str(OLD): NEW})

    run = send_campaign(tenant, [OLD])

    assert posts(hub) == [(OLD, 400), (NEW, 200)]
    [delivery] = run.deliveries.all()
    assert (delivery.status, delivery.address, delivery.attempts) == (DeliveryStatus.SENT, str(NEW), 1)
    assert delivery.provider_message_id.startswith(f"{NEW}:")
    run.refresh_from_db()
    assert run.status == "completed"
    # The stored group follows, so the next campaign posts to the supergroup directly.
    stored.refresh_from_db()
    assert (stored.chat_id, stored.migrated_from_chat_id, stored.type) == (NEW, OLD, "supergroup")
    hub.reset()
    send_campaign(tenant, [OLD])
    assert posts(hub) == [(NEW, 200)]


def test_it_follows_a_move_only_once(bot, hub):
    tenant, config = bot
    group(tenant, config, OLD)
    # A pathological chain: the new id answers "migrated" as well. One re-send, then a clear failure.
    hub.configure("telegram", migrated_chats={str(OLD): NEW, str(NEW): -1009999})

    run = send_campaign(tenant, [OLD])

    assert posts(hub) == [(OLD, 400), (NEW, 400)]
    [delivery] = run.deliveries.all()
    assert delivery.status == DeliveryStatus.FAILED and delivery.address == str(NEW)
    assert "upgraded to a supergroup" in delivery.error_message


def test_no_second_post_when_the_run_already_targets_the_supergroup(bot, hub):
    tenant, config = bot
    # The supergroup was learnt as a chat of its own before Telegram told us it replaced the group,
    # and the campaign ticked both: the supergroup gets its post, the old id's delivery does not re-send.
    group(tenant, config, OLD)
    group(tenant, config, NEW, type="supergroup")
    hub.configure("telegram", migrated_chats={str(OLD): NEW})

    run = send_campaign(tenant, [OLD, NEW])

    assert sorted(posts(hub)) == sorted([(OLD, 400), (NEW, 200)])
    rows = {d.address: d for d in run.deliveries.all()}
    assert set(rows) == {str(OLD), str(NEW)}
    assert rows[str(NEW)].status == DeliveryStatus.SENT
    assert rows[str(OLD)].status == DeliveryStatus.FAILED
    assert f"this run already targets {NEW}" in rows[str(OLD)].error_message


def test_other_permanent_errors_still_fail_at_once(bot, hub):
    from channels.fakes.telegram import MISSING_CHAT

    tenant, config = bot
    group(tenant, config, MISSING_CHAT)
    run = send_campaign(tenant, [MISSING_CHAT])
    assert posts(hub) == [(MISSING_CHAT, 400)]
    [delivery] = run.deliveries.all()
    assert delivery.status == DeliveryStatus.FAILED and delivery.error_message == "Bad Request: chat not found"
