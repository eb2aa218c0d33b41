"""Subscribers page -> "Remove from group…": the bot takes ticked people out of one of its groups
(banChatMember, then unbanChatMember with only_if_banned so they can rejoin by invite), with one
recorded outcome each, against the fake Bot API that tracks who is in which group."""

from __future__ import annotations

import pytest

from audiences.models import ConsentState, Contact, TelegramGroupRemoval
from tenants.scoping import tenant_scope
from tests.audiences.test_telegram_pages import add_chat, bot_config, subscribe, url
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

GROUP = "-100777"


def members(hub) -> dict[str, str]:
    return hub.configure("telegram").get("chat_members", {}).get(GROUP, {})  # no changes: reads it back


def remove(client, tenant, chat, *subscribers):
    return client.post(url(tenant, "telegram_subscribers_action"),
                       {"action": "group_remove", "chat": chat.pk, "ids": [s.pk for s in subscribers]}, follow=True)


def outcomes(tenant) -> dict[str, tuple[str, str]]:
    with tenant_scope(tenant):
        return {r.user_id: (r.status, r.message) for r in TelegramGroupRemoval.objects.all()}


def test_remove_from_group_kicks_the_members_and_lets_them_rejoin(marketer_client, tenant_a, hub, marketer):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    asha, ravi = subscribe(tenant_a), subscribe(tenant_a, chat_id="5550002", first_name="Ravi", username="ravi")
    hub.configure("telegram", chat_members={GROUP: {"5550001": "member", "5550002": "restricted"}})

    page = remove(marketer_client, tenant_a, chat, asha, ravi).content.decode()

    assert "Asha, Ravi removed from “Pune deals”. They can rejoin with an invite link." in page
    # Out of the group and not banned ("left", not "kicked"): an invite link brings them back.
    assert members(hub) == {"5550001": "left", "5550002": "left"}
    bans = hub.received("telegram", kind="call", method="banChatMember")
    unbans = hub.received("telegram", kind="call", method="unbanChatMember")
    assert [c["params"]["user_id"] for c in bans] == [5550001, 5550002]
    assert all(c["params"]["only_if_banned"] is True and c["params"]["chat_id"] == -100777 for c in unbans)
    assert outcomes(tenant_a) == {"5550001": ("removed", ""), "5550002": ("removed", "")}
    with tenant_scope(tenant_a):
        assert set(TelegramGroupRemoval.objects.values_list("removed_by", flat=True)) == {marketer.pk}
        # Removing someone from a group is not unsubscribing them from the bot.
        assert Contact.objects.get(pk=asha.contact_id).consent_telegram == ConsentState.OPTED_IN


def test_someone_not_in_the_group_is_reported_and_not_banned(marketer_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    asha = subscribe(tenant_a)
    hub.configure("telegram", chat_members={GROUP: {}})
    page = remove(marketer_client, tenant_a, chat, asha).content.decode()
    assert "Asha was not in “Pune deals”." in page
    assert hub.received("telegram", kind="call", method="banChatMember") == []
    assert outcomes(tenant_a) == {"5550001": ("not_member", "Not a member of “Pune deals”.")}


def test_a_bot_that_is_not_admin_says_so_once_and_stops_calling(marketer_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a))
    people = [subscribe(tenant_a, chat_id=f"555000{n}", first_name=f"P{n}", username=f"p{n}") for n in (1, 2, 3)]
    hub.configure("telegram", chat_members={GROUP: {f"555000{n}": "member" for n in (1, 2, 3)}},
                  bot_not_admin=[GROUP])

    page = remove(marketer_client, tenant_a, chat, *people).content.decode()

    messages, recent = page.split('id="group-removals"')
    assert messages.count("The bot is not an admin of “Pune deals”") == 1  # one line for all three
    assert "P1, P2, P3: The bot is not an admin" in page
    # Each person's outcome stays on the page after the message is gone.
    assert recent.count("Failed") == 3 and "make it an admin with “Ban users”" in recent
    assert len(hub.received("telegram", kind="call", method="banChatMember")) == 1  # Telegram's 400 "not enough rights"
    assert set(members(hub).values()) == {"member"}
    assert {status for status, _ in outcomes(tenant_a).values()} == {"failed"}


def test_group_admins_cannot_be_removed_and_the_rest_still_are(marketer_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    owner, asha = subscribe(tenant_a, chat_id="5550009", first_name="Owner", username="o"), subscribe(tenant_a)
    hub.configure("telegram", chat_members={GROUP: {"5550009": "creator", "5550001": "member"}})
    page = remove(marketer_client, tenant_a, chat, owner, asha).content.decode()
    assert "Asha removed from" in page
    assert "Owner: An admin of “Pune deals”: Telegram does not let a bot remove admins." in page
    assert members(hub) == {"5550009": "creator", "5550001": "left"}


def test_a_basic_group_is_left_with_the_ban_alone(marketer_client, tenant_a, hub):
    # unbanChatMember is for supergroups and channels; in a basic group a ban is a kick.
    chat = add_chat(tenant_a, bot_config(tenant_a), type="group", bot_status="administrator")
    asha = subscribe(tenant_a)
    hub.configure("telegram", chat_members={GROUP: {"5550001": "member"}})
    remove(marketer_client, tenant_a, chat, asha)
    assert hub.received("telegram", kind="call", method="unbanChatMember") == []
    assert outcomes(tenant_a) == {"5550001": ("removed", "")}


def test_the_group_must_be_chosen_and_must_be_the_tenants_own(marketer_client, outsider_client, tenant_a, tenant_b,
                                                               hub):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    asha = subscribe(tenant_a)
    response = marketer_client.post(url(tenant_a, "telegram_subscribers_action"),
                                    {"action": "group_remove", "ids": [asha.pk]})
    assert response.status_code == 400 and "Choose the group to remove them from." in response.content.decode()
    # Another tenant's group is not a choice; nothing is called.
    theirs = subscribe(tenant_b, chat_id="5550005", first_name="Zed", username="zed")
    response = outsider_client.post(url(tenant_b, "telegram_subscribers_action"),
                                    {"action": "group_remove", "chat": chat.pk, "ids": [theirs.pk]})
    assert response.status_code == 400
    assert hub.received("telegram", kind="call") == []


def test_channels_and_groups_the_bot_left_are_not_offered(marketer_client, tenant_a, hub):
    config = bot_config(tenant_a)
    add_chat(tenant_a, config, bot_status="administrator")
    add_chat(tenant_a, config, chat_id=-100555, title="News channel", type="channel", bot_status="administrator")
    add_chat(tenant_a, config, chat_id=-100556, title="Old group", bot_status="left")
    subscribe(tenant_a)
    page = marketer_client.get(url(tenant_a, "telegram_subscribers")).content.decode()
    assert "Remove from group…" in page and "Unsubscribe" in page
    assert "Pune deals" in page and "News channel" not in page and "Old group" not in page


def test_analysts_cannot_remove_anyone(analyst_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    asha = subscribe(tenant_a)
    assert remove(analyst_client, tenant_a, chat, asha).status_code == 403
    assert hub.received("telegram", kind="call") == []


def test_the_demo_sandbox_bot_removes_without_telegram(marketer_client, tenant_a, hub):
    from tests.channels.conftest import create_config

    sandbox = create_config(tenant_a, provider="sandbox", channel="telegram", is_default=True)
    chat = add_chat(tenant_a, sandbox, bot_status="administrator")
    page = remove(marketer_client, tenant_a, chat, subscribe(tenant_a)).content.decode()
    assert "Asha removed from “Pune deals”." in page
    assert hub.received("telegram", kind="call") == []
    assert outcomes(tenant_a) == {"5550001": ("removed", "")}


def test_the_system_admin_lists_removals_read_only(client, django_user_model, marketer_client, tenant_a, hub):
    chat = add_chat(tenant_a, bot_config(tenant_a), bot_status="administrator")
    hub.configure("telegram", chat_members={GROUP: {"5550001": "member"}})
    remove(marketer_client, tenant_a, chat, subscribe(tenant_a))
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x-12345-secure"))
    listing = client.get("/admin/audiences/telegramgroupremoval/").content.decode()
    assert "5550001" in listing and "Removed" in listing and "Pune deals" in listing
    assert client.get("/admin/audiences/telegramgroupremoval/add/").status_code == 403
