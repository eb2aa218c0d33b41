# ruff: noqa: F811  (pytest fixtures imported from test_telegram_updates are used as arguments)
"""Unblocking a Telegram subscriber (with consent history), and a group upgraded to a supergroup
(Telegram's migrate_to_chat_id / migrate_from_chat_id): signed updates from the fake Bot API."""

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
from audiences.selectors_telegram import telegram_reach, telegram_targets_context
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse
from tests.audiences.test_telegram_updates import GROUP, bot, chats, post_update  # noqa: F401
from tests.channels.providers.fake_hub import hub_fixture, sink_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SUPERGROUP = -1009876543210


def action(client, tenant, name, subscriber):
    return client.post(tenant_reverse(tenant, "audiences:telegram_subscribers_action"),
                       {"action": name, "ids": [subscriber.pk]}, follow=True)


def history(contact) -> list[tuple[str, str, str]]:
    return [(e.state, e.source, (e.evidence or {}).get("action", e.evidence.get("keyword", "")))
            for e in ConsentEvent.objects.filter(contact=contact, channel="telegram").order_by("created_at", "id")]


# --- unblock --------------------------------------------------------------------------------------

def test_unblock_restores_the_subscription_with_consent_history(post_update, marketer_client, marketer, tenant_a):
    post_update(chat_id=5550001, text="/start", first_name="Asha")
    with tenant_scope(tenant_a):
        subscriber = TelegramSubscriber.objects.get(tenant=tenant_a, chat_id="5550001")
    action(marketer_client, tenant_a, "block", subscriber)
    post_update(chat_id=5550001, text="/start")  # refused while blocked
    with tenant_scope(tenant_a):
        assert Contact.objects.get(pk=subscriber.contact_id).consent_telegram == ConsentState.OPTED_OUT

    response = action(marketer_client, tenant_a, "unblock", subscriber)
    assert "1 subscriber unblocked" in response.content.decode()
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(pk=subscriber.contact_id)
        assert contact.telegram_chat_id == "5550001" and contact.consent_telegram == ConsentState.OPTED_IN
        assert TelegramSubscriber.objects.get(pk=subscriber.pk).blocked_at is None
        assert history(contact) == [("opted_in", ConsentSource.KEYWORD, "START"),
                                    ("opted_out", ConsentSource.ADMIN, "telegram_block"),
                                    ("opted_in", ConsentSource.ADMIN, "telegram_unblock")]
        assert ConsentEvent.objects.filter(contact=contact).order_by("-created_at", "-id").first().actor == marketer
    page = marketer_client.get(tenant_reverse(tenant_a, "audiences:telegram_subscribers")).content.decode()
    assert "Subscribed" in page and "Unblock</button>" not in page

    # Unblocked, the person's own /stop and /start work again through the keyword path.
    post_update(chat_id=5550001, text="/stop")
    with tenant_scope(tenant_a):
        assert Contact.objects.get(pk=subscriber.contact_id).consent_telegram == ConsentState.OPTED_OUT


def test_unblock_keeps_an_opt_out_the_person_chose_before_the_block(post_update, marketer_client, tenant_a):
    post_update(chat_id=5550001, text="/start", first_name="Asha")
    post_update(chat_id=5550001, text="/stop")
    with tenant_scope(tenant_a):
        subscriber = TelegramSubscriber.objects.get(tenant=tenant_a, chat_id="5550001")
    action(marketer_client, tenant_a, "block", subscriber)
    page = marketer_client.get(tenant_reverse(tenant_a, "audiences:telegram_subscribers")).content.decode()
    assert "Unblock</button>" in page  # a one-click button on the blocked row
    action(marketer_client, tenant_a, "unblock", subscriber)
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(pk=subscriber.contact_id)
        assert contact.consent_telegram == ConsentState.OPTED_OUT  # they said /stop themselves
        assert [state for state, _, _ in history(contact)] == ["opted_in", "opted_out"]  # nothing invented
        assert contact.telegram_chat_id == "5550001"
    post_update(chat_id=5550001, text="/start")  # and they can come back themselves
    with tenant_scope(tenant_a):
        assert Contact.objects.get(pk=subscriber.contact_id).consent_telegram == ConsentState.OPTED_IN


def test_unblocking_twice_or_someone_not_blocked_changes_nothing(post_update, marketer_client, tenant_a):
    post_update(chat_id=5550001, text="/start")
    with tenant_scope(tenant_a):
        subscriber = TelegramSubscriber.objects.get(tenant=tenant_a, chat_id="5550001")
    response = action(marketer_client, tenant_a, "unblock", subscriber)
    assert "0 subscribers unblocked" in response.content.decode()
    with tenant_scope(tenant_a):
        assert len(history(Contact.objects.get(pk=subscriber.contact_id))) == 1


def test_analysts_and_other_tenants_cannot_unblock(post_update, marketer_client, analyst_client, outsider_client,
                                                   tenant_a, tenant_b):
    post_update(chat_id=5550001, text="/start")
    with tenant_scope(tenant_a):
        subscriber = TelegramSubscriber.objects.get(tenant=tenant_a, chat_id="5550001")
    action(marketer_client, tenant_a, "block", subscriber)
    assert analyst_client.post(tenant_reverse(tenant_a, "audiences:telegram_subscribers_action"),
                               {"action": "unblock", "ids": [subscriber.pk]}).status_code == 403
    outsider_client.post(tenant_reverse(tenant_b, "audiences:telegram_subscribers_action"),
                         {"action": "unblock", "ids": [subscriber.pk]})
    with tenant_scope(tenant_a):
        assert TelegramSubscriber.objects.get(pk=subscriber.pk).blocked_at is not None


# --- supergroup migration -------------------------------------------------------------------------

def test_a_group_upgraded_to_a_supergroup_keeps_its_row_under_the_new_id(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="group", title="Pune deals", bot_status="member")
    post_update(chat_id=GROUP, chat_type="group", text="hello", from_id=5550009)
    before = chats(tenant_a)[GROUP]
    response = post_update(chat_id=GROUP, chat_type="group", migrate_to_chat_id=SUPERGROUP)
    assert response.status_code == 200
    after = chats(tenant_a)
    assert list(after) == [SUPERGROUP]  # moved, not duplicated
    chat = after[SUPERGROUP]
    assert (chat.pk, chat.created_at, chat.title, chat.last_post_at) == (
        before.pk, before.created_at, "Pune deals", before.last_post_at)
    assert (chat.type, chat.migrated_from_chat_id, chat.bot_status) == ("supergroup", GROUP, "member")

    # The supergroup's own service message, and a replay of the first, change nothing more.
    post_update(chat_id=SUPERGROUP, chat_type="supergroup", migrate_from_chat_id=GROUP)
    post_update(chat_id=GROUP, chat_type="group", migrate_to_chat_id=SUPERGROUP)
    assert list(chats(tenant_a)) == [SUPERGROUP] and chats(tenant_a)[SUPERGROUP].pk == before.pk


def test_when_the_supergroup_was_learnt_first_the_two_become_one(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="group", title="Pune deals", bot_status="member")
    original = chats(tenant_a)[GROUP]
    post_update(chat_id=SUPERGROUP, chat_type="supergroup", title="Pune deals!", bot_status="administrator")
    assert set(chats(tenant_a)) == {GROUP, SUPERGROUP}
    post_update(chat_id=SUPERGROUP, chat_type="supergroup", migrate_from_chat_id=GROUP)
    merged = chats(tenant_a)
    assert list(merged) == [SUPERGROUP]
    chat = merged[SUPERGROUP]
    assert chat.pk == original.pk and chat.created_at == original.created_at  # the older row, its history
    assert (chat.title, chat.bot_status, chat.migrated_from_chat_id) == ("Pune deals!", "administrator", GROUP)


def test_campaign_targets_naming_the_old_group_reach_the_supergroup(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="group", title="Pune deals", bot_status="member")
    with tenant_scope(tenant_a):
        TelegramChat.objects.filter(chat_id=GROUP).update(member_count=31)
    post_update(chat_id=GROUP, chat_type="group", migrate_to_chat_id=SUPERGROUP)
    with tenant_scope(tenant_a):
        reach = telegram_reach(tenant_id=tenant_a.pk, subscribers="none", chat_ids=[GROUP])
        assert reach == {"subscribers": 0, "members": 30, "chats": 1, "total": 30}
        context = telegram_targets_context(tenant_id=tenant_a.pk, targets={"subscribers": "none", "chat_ids": [GROUP]})
        [row] = context["tg_groups"]
        assert row["ticked"] and row["chat"].chat_id == SUPERGROUP


def test_a_migration_message_for_an_unknown_group_creates_nothing(post_update, tenant_a):
    post_update(chat_id=GROUP, chat_type="group", migrate_to_chat_id=SUPERGROUP)
    assert chats(tenant_a) == {}


def test_a_refresh_that_finds_the_group_upgraded_follows_it_to_the_supergroup(post_update, hub, tenant_a):
    from audiences.telegram import telegram_chats_refresh

    post_update(chat_id=GROUP, chat_type="group", title="Pune deals", bot_status="member")
    before = chats(tenant_a)[GROUP]
    # The migration's service messages never arrived; Telegram now answers the old id with
    # "group chat was upgraded to a supergroup chat" and the new id.
    hub.configure("telegram", migrated_chats={str(GROUP): SUPERGROUP}, member_counts={str(SUPERGROUP): 77})
    with tenant_scope(tenant_a):
        refreshed, problems = telegram_chats_refresh(chats=TelegramChat.objects.filter(tenant=tenant_a))
    assert (refreshed, problems) == (1, [])
    chat = chats(tenant_a)[SUPERGROUP]
    assert (chat.pk, chat.member_count, chat.migrated_from_chat_id, chat.is_active) == (before.pk, 77, GROUP, True)
