"""Telegram updates from the fake Bot API, posted to our webhook route: groups and subscribers.

Each update is made by the fake (POST /telegram/_update), which signs it with the secret token it
learnt from our setWebhook call; a local sink catches it and the test posts it, byte for byte and
with its header, to /hooks/telegram/<token>/ as Telegram would.
"""

from __future__ import annotations

import pytest

from audiences.models import (
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    TelegramChat,
    TelegramSubscriber,
)
from audiences.tasks import telegram_chats_refresh_task
from audiences.telegram import telegram_chats_refresh
from channels.selectors import channel_adapter
from tenants.scoping import tenant_scope
from tests.channels.conftest import create_config
from tests.channels.providers.fake_hub import hub_fixture, sink_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

SECRET = "tg-secret-tenant-a_0001"
GROUP = -1001234567


@pytest.fixture
def bot(hub, sink, tenant_a):
    config = create_config(tenant_a, provider="telegram", channel="telegram",
                           secrets={"bot_token": "123456:ABC-tenant-a", "webhook_secret": SECRET})
    with tenant_scope(tenant_a):
        channel_adapter(config).set_webhook(sink.url)
    return config


@pytest.fixture
def post_update(client, hub, sink, bot):
    """Have the fake send one update and deliver it to our webhook; returns the response."""

    def post(**update):
        seen = len(sink.requests)
        hub.simulate("telegram", "_update", **update)
        captured = sink.wait_for(seen + 1)[seen]
        secret = {k.lower(): v for k, v in captured["headers"].items()}.get("x-telegram-bot-api-secret-token", "")
        return client.post(bot.webhook_path, data=captured["body"], content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=secret)

    return post


def chats(tenant):
    with tenant_scope(tenant):
        return {c.chat_id: c for c in TelegramChat.objects.filter(tenant=tenant)}


def test_the_bot_added_to_a_group_is_listed_and_counted(post_update, hub, tenant_a, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    hub.configure("telegram", member_counts={str(GROUP): 318})
    # The count is fetched by a task after the commit; run it in-process here.
    monkeypatch.setattr(telegram_chats_refresh_task, "delay", lambda *args: telegram_chats_refresh_task.apply(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_update(chat_id=GROUP, chat_type="supergroup", title="Pune deals", bot_status="member")
    assert response.status_code == 200
    chat = chats(tenant_a)[GROUP]
    assert (chat.title, chat.type, chat.bot_status) == ("Pune deals", "supergroup", TelegramChat.BotStatus.MEMBER)
    assert chat.member_count == 318


def test_promoted_then_removed_the_group_is_kept_and_marked(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="supergroup", title="Pune deals", bot_status="member")
    post_update(chat_id=GROUP, chat_type="supergroup", bot_status="administrator")
    assert chats(tenant_a)[GROUP].bot_status == TelegramChat.BotStatus.ADMINISTRATOR
    post_update(chat_id=GROUP, chat_type="supergroup", bot_status="kicked")
    chat = chats(tenant_a)[GROUP]
    assert chat.bot_status == TelegramChat.BotStatus.KICKED and not chat.is_active
    assert chat.title == "Pune deals"  # an update without the title is not a rename


def test_a_channel_the_bot_administers_is_listed_as_a_channel(post_update, tenant_a):
    post_update(chat_id=-1009990001, chat_type="channel", title="Relay news", bot_status="administrator")
    assert chats(tenant_a)[-1009990001].type == TelegramChat.Type.CHANNEL


def test_a_message_in_the_group_moves_its_last_post_and_marks_no_delivery(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="supergroup", title="Pune deals", bot_status="member")
    assert chats(tenant_a)[GROUP].last_post_at is None
    post_update(chat_id=GROUP, chat_type="supergroup", text="Anyone going to the sale?", from_id=5550009)
    assert chats(tenant_a)[GROUP].last_post_at is not None


def test_start_makes_a_subscriber_contact_with_consent_history(post_update, tenant_a):
    response = post_update(chat_id=5550001, text="/start promo42", first_name="Asha", last_name="Rao",
                           from_username="asha_r")
    assert response.status_code == 200
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(tenant=tenant_a, telegram_chat_id="5550001")
        assert (contact.first_name, contact.last_name, contact.telegram_username) == ("Asha", "Rao", "asha_r")
        assert contact.consent_telegram == ConsentState.OPTED_IN
        [event] = ConsentEvent.objects.filter(contact=contact)
        assert (event.source, event.previous_state, event.state) == (ConsentSource.KEYWORD, "unknown", "opted_in")
        assert event.evidence["text"] == "/start promo42" and event.evidence["provider"] == "telegram"
        subscriber = TelegramSubscriber.objects.get(contact=contact)
        assert subscriber.start_payload == "promo42" and subscriber.chat_id == "5550001"


def test_start_again_updates_the_same_contact_without_overwriting_crm_names(post_update, tenant_a):
    with tenant_scope(tenant_a):
        known = Contact.objects.create(tenant=tenant_a, first_name="Asha Priya", telegram_chat_id="5550001")
    post_update(chat_id=5550001, text="/start", first_name="Asha", from_username="asha_new")
    with tenant_scope(tenant_a):
        assert Contact.objects.filter(tenant=tenant_a).count() == 1
        known.refresh_from_db()
        assert (known.first_name, known.telegram_username) == ("Asha Priya", "asha_new")
        assert known.consent_telegram == ConsentState.OPTED_IN


def test_stop_opts_the_subscriber_out_and_keeps_the_history(post_update, tenant_a):
    post_update(chat_id=5550001, text="/start", first_name="Asha")
    post_update(chat_id=5550001, text="/stop")
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(tenant=tenant_a, telegram_chat_id="5550001")
        assert contact.consent_telegram == ConsentState.OPTED_OUT
        states = list(ConsentEvent.objects.filter(contact=contact).order_by("created_at", "id")
                      .values_list("state", flat=True))
        assert states == ["opted_in", "opted_out"]


def test_stop_typed_in_a_group_creates_and_changes_nobody(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="supergroup", text="/start", from_id=5550001)
    with tenant_scope(tenant_a):
        assert not Contact.objects.filter(tenant=tenant_a).exists()


def test_an_update_with_another_tenants_secret_changes_nothing(client, hub, sink, bot, tenant_a, tenant_b):
    other = create_config(tenant_b, provider="telegram", channel="telegram",
                          secrets={"bot_token": "654321:XYZ-tenant-b", "webhook_secret": "tg-secret-tenant-b_0002"})
    with tenant_scope(tenant_b):
        channel_adapter(other).set_webhook(sink.url)  # the fake now signs with tenant B's secret
    hub.simulate("telegram", "_update", chat_id=5550001, text="/start")
    captured = sink.wait_for(1)[0]
    response = client.post(bot.webhook_path, data=captured["body"], content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="tg-secret-tenant-b_0002")
    assert response.status_code == 403
    with tenant_scope(tenant_a):
        assert not Contact.objects.filter(tenant=tenant_a).exists()


def test_member_counts_refresh_from_the_bot_api_and_skip_chats_the_bot_left(post_update, hub, tenant_a):
    post_update(chat_id=GROUP, chat_type="supergroup", title="Pune deals", bot_status="member")
    post_update(chat_id=-100555, chat_type="group", title="Old group", bot_status="left")
    hub.configure("telegram", member_counts={str(GROUP): 1204})
    with tenant_scope(tenant_a):
        refreshed, problems = telegram_chats_refresh(chats=TelegramChat.objects.filter(tenant=tenant_a))
    assert (refreshed, problems) == (1, [])
    assert chats(tenant_a)[GROUP].member_count == 1204
    calls = hub.received("telegram", kind="call", method="getChatMemberCount")
    assert [c["params"]["chat_id"] for c in calls] == [GROUP]
