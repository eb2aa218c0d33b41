"""Audiences -> Telegram pages: groups (refresh, leave) and subscribers (remove, block, export,
direct message, add to list or tag), per tenant and per role, against the fake Bot API."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from audiences.models import (
    ConsentEvent,
    ConsentState,
    Contact,
    ContactList,
    Tag,
    TelegramChat,
    TelegramDirectMessage,
    TelegramSubscriber,
)
from audiences.telegram import telegram_subscriber_start
from channels.fakes.telegram import BLOCKED_CHAT, MISSING_CHAT
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse
from tests.channels.conftest import create_config
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def url(tenant, name, *args):
    return tenant_reverse(tenant, f"audiences:{name}", *args)


def bot_config(tenant, token="123456:ABC-test"):
    return create_config(tenant, provider="telegram", channel="telegram", is_default=True,
                         secrets={"bot_token": token, "webhook_secret": "s3cret-token"})


def add_chat(tenant, config, chat_id=-100777, title="Pune deals", **kw):
    with tenant_scope(tenant):
        return TelegramChat.objects.create(tenant=tenant, channel_config=config, chat_id=chat_id, title=title,
                                           type=kw.pop("type", "supergroup"), **kw)


def subscribe(tenant, chat_id="5550001", first_name="Asha", username="asha_r"):
    message = {"chat": {"id": int(chat_id), "type": "private"}, "text": "/start",
               "from": {"id": int(chat_id), "first_name": first_name, "username": username}}
    with tenant_scope(tenant):
        return telegram_subscriber_start(tenant_id=tenant.pk, message=message, at=timezone.now(),
                                         evidence={"provider": "telegram"})


# --- groups ---------------------------------------------------------------------------------------


def test_the_groups_page_lists_name_type_members_and_bot_status(owner_client, tenant_a):
    config = bot_config(tenant_a)
    add_chat(tenant_a, config, member_count=1204, bot_status="administrator")
    add_chat(tenant_a, config, chat_id=-100888, title="Gone group", bot_status="left")
    page = owner_client.get(url(tenant_a, "telegram_groups")).content.decode()
    assert "Pune deals" in page and "Supergroup" in page and "1,204" in page and "Administrator" in page
    assert "Gone group" not in page
    assert "Gone group" in owner_client.get(url(tenant_a, "telegram_groups") + "?show=all").content.decode()


def test_refresh_recounts_members_through_the_bot_api(owner_client, tenant_a, hub):
    config = bot_config(tenant_a)
    chat = add_chat(tenant_a, config)
    hub.configure("telegram", member_counts={"-100777": 77})
    response = owner_client.post(url(tenant_a, "telegram_groups_refresh"), follow=True)
    assert "Member counts refreshed for 1 group." in response.content.decode()
    with tenant_scope(tenant_a):
        chat.refresh_from_db()
    assert chat.member_count == 77


def test_a_group_telegram_no_longer_knows_is_marked_left_on_refresh(owner_client, tenant_a, hub):
    # The fake answers "chat not found" for MISSING_CHAT, as Telegram does for a deleted group.
    chat = add_chat(tenant_a, bot_config(tenant_a), chat_id=MISSING_CHAT, title="Deleted group")
    response = owner_client.post(url(tenant_a, "telegram_groups_refresh"), follow=True)
    assert "Deleted group: Bad Request: chat not found" in response.content.decode()
    with tenant_scope(tenant_a):
        chat.refresh_from_db()
    assert chat.bot_status == TelegramChat.BotStatus.LEFT


def test_leave_group_calls_leave_chat_and_marks_the_group_left(owner_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a))
    owner_client.post(url(tenant_a, "telegram_group_leave", chat.pk))
    [call] = hub.received("telegram", kind="call", method="leaveChat")
    assert call["params"]["chat_id"] == -100777
    with tenant_scope(tenant_a):
        chat.refresh_from_db()
    assert chat.bot_status == TelegramChat.BotStatus.LEFT


def test_only_admins_make_the_bot_leave_and_analysts_cannot_refresh(marketer_client, analyst_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a))
    assert marketer_client.post(url(tenant_a, "telegram_group_leave", chat.pk)).status_code == 403
    assert analyst_client.post(url(tenant_a, "telegram_groups_refresh")).status_code == 403
    assert analyst_client.get(url(tenant_a, "telegram_groups")).status_code == 200
    assert hub.received("telegram", kind="call") == []


def test_another_tenants_group_answers_404(outsider_client, tenant_a, tenant_b, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a))
    assert outsider_client.post(url(tenant_b, "telegram_group_leave", chat.pk)).status_code == 404
    assert "Pune deals" not in outsider_client.get(url(tenant_b, "telegram_groups")).content.decode()


# --- subscribers ------------------------------------------------------------------------------------


def test_the_subscribers_page_shows_name_username_and_joined(marketer_client, tenant_a):
    subscribe(tenant_a)
    page = marketer_client.get(url(tenant_a, "telegram_subscribers")).content.decode()
    assert "Asha" in page and "@asha_r" in page and timezone.now().strftime("%b %Y") in page and "Subscribed" in page


def test_unsubscribe_opts_the_subscriber_out_with_history(marketer_client, tenant_a, marketer):
    subscriber = subscribe(tenant_a)
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"),
                                    {"action": "unsubscribe", "ids": [subscriber.pk]}, follow=True)
    assert "1 subscriber unsubscribed" in response.content.decode()
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(pk=subscriber.contact_id)
        assert contact.consent_telegram == ConsentState.OPTED_OUT
        assert ConsentEvent.objects.filter(contact=contact, state="opted_out", actor=marketer).exists()


def test_a_blocked_subscriber_gets_nothing_and_cannot_start_again(marketer_client, tenant_a):
    subscriber = subscribe(tenant_a)
    marketer_client.post(url(tenant_a, "telegram_subscribers_action"), {"action": "block", "ids": [subscriber.pk]})
    assert subscribe(tenant_a) is None  # /start again
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(pk=subscriber.contact_id)
        assert contact.consent_telegram == ConsentState.OPTED_OUT and contact.telegram_chat_id == ""
        assert TelegramSubscriber.objects.get(pk=subscriber.pk).blocked_at is not None
    assert "Blocked" in marketer_client.get(url(tenant_a, "telegram_subscribers")).content.decode()


def test_add_to_a_list_and_tag_for_segments(marketer_client, tenant_a):
    subscriber = subscribe(tenant_a)
    with tenant_scope(tenant_a):
        vip = ContactList.objects.create(tenant=tenant_a, name="VIP")
    marketer_client.post(url(tenant_a, "telegram_subscribers_action"),
                         {"action": "list_add", "contact_list": vip.pk, "ids": [subscriber.pk]})
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"),
                                    {"action": "tag_add", "tag_name": "telegram-fans", "ids": [subscriber.pk]},
                                    follow=True)
    assert "a segment with the rule “Tag is telegram-fans” now includes them" in response.content.decode()
    with tenant_scope(tenant_a):
        assert list(vip.contacts.values_list("pk", flat=True)) == [subscriber.contact_id]
        assert Tag.objects.get(tenant=tenant_a, name="telegram-fans").contacts.filter(pk=subscriber.contact_id).exists()


def test_bad_bulk_input_is_explained(marketer_client, tenant_a):
    subscriber = subscribe(tenant_a)
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"), {"action": "list_add"})
    assert response.status_code == 400 and "Tick at least one subscriber." in response.content.decode()
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"), {"ids": [subscriber.pk]})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"),
                                    {"action": "list_add", "ids": [subscriber.pk]})
    assert response.status_code == 400 and "Choose the list to add them to." in response.content.decode()


def test_another_tenants_list_and_subscribers_are_out_of_reach(outsider_client, tenant_a, tenant_b):
    subscriber = subscribe(tenant_a)
    with tenant_scope(tenant_b):
        their_list = ContactList.objects.create(tenant=tenant_b, name="Theirs")
    response = outsider_client.post(url(tenant_b, "telegram_subscribers_action"),
                                    {"action": "list_add", "contact_list": their_list.pk, "ids": [subscriber.pk]})
    with tenant_scope(tenant_b):
        assert not their_list.contacts.exists()
    assert response.status_code == 302
    assert outsider_client.get(url(tenant_b, "telegram_message", subscriber.pk)).status_code == 404
    assert "Asha" not in outsider_client.get(url(tenant_b, "telegram_subscribers")).content.decode()


def test_analysts_read_but_cannot_act_on_subscribers(analyst_client, tenant_a):
    subscriber = subscribe(tenant_a)
    assert analyst_client.get(url(tenant_a, "telegram_subscribers")).status_code == 200
    response = analyst_client.post(url(tenant_a, "telegram_subscribers_action"), {"action": "block", "ids": [subscriber.pk]})
    assert response.status_code == 403
    assert analyst_client.post(url(tenant_a, "telegram_message", subscriber.pk), {"text": "hi"}).status_code == 403
    with tenant_scope(tenant_a):
        assert TelegramSubscriber.objects.get(pk=subscriber.pk).blocked_at is None


def test_export_neutralizes_spreadsheet_formulas(marketer_client, tenant_a):
    subscribe(tenant_a, first_name="=HYPERLINK(\"http://evil\")", username="asha_r")
    response = marketer_client.get(url(tenant_a, "telegram_subscribers_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert rows[0][:4] == ["first_name", "last_name", "username", "chat_id"]
    assert rows[1][0] == "'=HYPERLINK(\"http://evil\")"
    assert rows[1][2:4] == ["asha_r", "5550001"]


def test_a_direct_message_goes_through_the_bot_and_is_recorded(marketer_client, tenant_a, hub, marketer):
    bot_config(tenant_a)
    subscriber = subscribe(tenant_a)
    response = marketer_client.post(url(tenant_a, "telegram_message", subscriber.pk), {"text": "Your order shipped"},
                                    follow=True)
    assert "Message sent to Asha." in response.content.decode()
    [call] = hub.received("telegram", kind="call", method="sendMessage")
    assert call["params"]["chat_id"] == 5550001 and call["params"]["text"] == "Your order shipped"
    with tenant_scope(tenant_a):
        [sent] = TelegramDirectMessage.objects.filter(tenant=tenant_a)
    assert (sent.status, sent.sent_by, sent.provider_message_id.startswith("5550001:")) == ("sent", marketer, True)


def test_a_refused_direct_message_is_recorded_as_failed_and_explained(marketer_client, tenant_a, hub):
    bot_config(tenant_a)
    subscriber = subscribe(tenant_a, chat_id=str(BLOCKED_CHAT))
    response = marketer_client.post(url(tenant_a, "telegram_message", subscriber.pk), {"text": "Hello"})
    assert response.status_code == 400
    assert "bot was blocked by the user" in response.content.decode()
    with tenant_scope(tenant_a):
        assert TelegramDirectMessage.objects.get(tenant=tenant_a).status == "failed"


def test_an_empty_message_or_no_bot_gets_a_clear_error(marketer_client, tenant_a, hub):
    subscriber = subscribe(tenant_a)
    response = marketer_client.post(url(tenant_a, "telegram_message", subscriber.pk), {"text": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    response = marketer_client.post(url(tenant_a, "telegram_message", subscriber.pk), {"text": "Hi"})
    assert "No Telegram bot is set up" in response.content.decode()
    assert hub.received("telegram", kind="call") == []


def test_the_audiences_tabs_lead_to_telegram(marketer_client, tenant_a):
    page = marketer_client.get(url(tenant_a, "index")).content.decode()
    assert url(tenant_a, "telegram_groups") in page
