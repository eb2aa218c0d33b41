"""The Telegram adapter's group side: getChatMemberCount, leaveChat and group updates."""

from __future__ import annotations

import pytest

from channels.base import ConfigurationError, ProviderError, Stage
from channels.fakes.telegram import DEFAULT_MEMBER_COUNT, MISSING_CHAT
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401
from tests.channels.providers.test_telegram import make_adapter, private_message, update_request


def group_member_update(status: str, chat_type: str = "supergroup") -> dict:
    return {"update_id": 9100, "my_chat_member": {
        "chat": {"id": -100123, "type": chat_type, "title": "Deals"}, "from": {"id": 5550001, "is_bot": False},
        "date": 1700000000, "old_chat_member": {"status": "left", "user": {"id": 1, "is_bot": True}},
        "new_chat_member": {"status": status, "user": {"id": 1, "is_bot": True}}}}


def test_the_bot_added_to_a_group_is_an_event_with_no_address_or_keyword():
    [event] = make_adapter().parse_callback(update_request(group_member_update("administrator")))
    assert (event.stage, event.keyword, event.from_address, event.event_id) == (None, "", "", "tg:9100")
    assert event.raw["chat"]["title"] == "Deals"


def test_group_chatter_carries_no_address_but_a_reply_to_our_post_does():
    chatter = private_message("Anyone going?")
    chatter["message"]["chat"] = {"id": -100123, "type": "supergroup"}
    [event] = make_adapter().parse_callback(update_request(chatter))
    assert event.from_address == "" and event.raw["chat"]["id"] == -100123
    ours = {"message_id": 42, "from": {"id": 1, "is_bot": True}, "chat": {"id": -100123}}
    reply = private_message("Yes!", reply_to_message=ours)
    reply["message"]["chat"] = {"id": -100123, "type": "supergroup"}
    [event] = make_adapter().parse_callback(update_request(reply))
    assert (event.stage, event.from_address, event.provider_message_id) == (Stage.REPLIED, "-100123", "-100123:42")


def test_member_count_comes_from_get_chat_member_count(hub):
    hub.configure("telegram", member_counts={"-100123": 1204})
    assert make_adapter().member_count(-100123) == 1204
    assert make_adapter().member_count("@relaydeals") == DEFAULT_MEMBER_COUNT
    calls = hub.received("telegram", kind="call", method="getChatMemberCount")
    assert [c["params"]["chat_id"] for c in calls] == [-100123, "@relaydeals"]


def test_leave_chat_calls_the_bot_api(hub):
    make_adapter().leave_chat(-100123)
    [call] = hub.received("telegram", kind="call")
    assert (call["method"], call["params"]) == ("leaveChat", {"chat_id": -100123})


def test_an_unknown_chat_is_a_permanent_error(hub):
    with pytest.raises(ProviderError) as raised:
        make_adapter().member_count(MISSING_CHAT)
    assert raised.value.permanent and raised.value.code == "400"


def test_a_429_while_counting_is_transient_with_retry_after(hub):
    hub.fault("telegram", status=429, retry_after=7)
    with pytest.raises(ProviderError) as raised:
        make_adapter().member_count(-100123)
    assert not raised.value.permanent and raised.value.retry_after == 7


def test_counting_without_a_bot_token_is_a_clear_configuration_error():
    with pytest.raises(ConfigurationError, match="Bot token"):
        make_adapter(secrets={"bot_token": ""}).member_count(-100123)
