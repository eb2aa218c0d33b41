"""Telegram Bot API: webhook secret, update parsing and the send matrix against the fake."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, OutboundMessage, ProviderConfig, Stage
from channels.providers.telegram import Telegram

SECRET = "tg-webhook-secret_123"


def make_adapter(**overrides) -> Telegram:
    secrets = {"bot_token": "123456:ABC-test", "webhook_secret": SECRET, **overrides.pop("secrets", {})}
    return Telegram(ProviderConfig(key="telegram", settings=overrides.pop("settings", {}), secrets=secrets, **overrides))


def update_request(update: dict, *, secret: str | None = SECRET):
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return RequestFactory().post("/hooks/telegram/x/", data=json.dumps(update), content_type="application/json", headers=headers)


def private_message(text: str, **extra) -> dict:
    return {"update_id": 9001, "message": {
        "message_id": 77, "date": 1700000000, "text": text,
        "from": {"id": 5550001, "is_bot": False, "first_name": "Asha"},
        "chat": {"id": 5550001, "type": "private", "first_name": "Asha"}, **extra}}


# --- webhook secret ------------------------------------------------------------------------------


def test_an_update_with_the_right_secret_token_is_accepted():
    assert make_adapter().verify_callback(update_request(private_message("hi")))


@pytest.mark.parametrize("secret", [None, "", "tg-webhook-secret_124", SECRET.upper()])
def test_updates_without_the_exact_secret_token_are_refused(secret):
    assert not make_adapter().verify_callback(update_request(private_message("hi"), secret=secret))


def test_without_a_stored_secret_nothing_verifies():
    assert not make_adapter(secrets={"webhook_secret": ""}).verify_callback(update_request(private_message("hi"), secret=""))


def test_generated_secrets_include_a_webhook_secret_telegram_accepts():
    secret = Telegram.generate_secrets()["webhook_secret"]
    assert 32 <= len(secret) <= 256
    assert all(ch.isalnum() or ch in "_-" for ch in secret)


# --- parsing updates -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "keyword"), [
    ("/stop", "stop"), ("/stop@RelayBot", "stop"), ("/start", "start"), ("/start promo42", "start"),
    ("/help", "help"), ("please stop", ""), ("hello", ""),
])
def test_commands_in_a_private_chat_are_compliance_keywords(text, keyword):
    [event] = make_adapter().parse_callback(update_request(private_message(text)))
    assert event.keyword == keyword
    assert event.from_address == "5550001"
    assert event.text == text
    assert event.event_id == "tg:9001"


def test_a_reply_to_one_of_our_messages_is_a_reply_to_that_message():
    ours = {"message_id": 42, "from": {"id": 1, "is_bot": True, "first_name": "Relay"}, "chat": {"id": 5550001}}
    [event] = make_adapter().parse_callback(update_request(private_message("Yes please", reply_to_message=ours)))
    assert event.stage == Stage.REPLIED
    assert event.provider_message_id == "5550001:42"


def test_a_message_that_replies_to_nothing_of_ours_is_plain_inbound():
    [event] = make_adapter().parse_callback(update_request(private_message("hello")))
    assert event.stage is None
    assert event.provider_message_id == ""


def test_stop_typed_in_a_group_does_not_unsubscribe_the_group():
    update = private_message("/stop")
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Deals"}
    [event] = make_adapter().parse_callback(update_request(update))
    assert event.keyword == ""


def test_a_user_blocking_the_bot_is_a_stop():
    update = {"update_id": 9002, "my_chat_member": {
        "chat": {"id": 5550001, "type": "private"}, "from": {"id": 5550001, "is_bot": False}, "date": 1700000000,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True}},
        "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True}, "until_date": 0}}}
    [event] = make_adapter().parse_callback(update_request(update))
    assert event.keyword == "stop"
    assert event.from_address == "5550001"


def test_missing_bot_token_is_a_clear_configuration_error():
    with pytest.raises(ConfigurationError, match="Bot token"):
        make_adapter(secrets={"bot_token": ""}).send([OutboundMessage(id="d1", to="1", text="hi")])


def test_an_unknown_parse_mode_setting_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="parse mode"):
        make_adapter(settings={"parse_mode": "BBCode"}).send([OutboundMessage(id="d1", to="1", text="hi")])


def test_rate_limits_are_exposed_for_the_engine():
    assert Telegram.capabilities.default_rate_per_second == 30
    assert Telegram.PER_CHAT_RATE_PER_SECOND == 1
    assert Telegram.PER_GROUP_PER_MINUTE == 20
