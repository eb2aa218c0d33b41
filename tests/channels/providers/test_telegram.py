"""Telegram Bot API: webhook secret, update parsing and the send matrix against the fake."""

from __future__ import annotations

import json
import time

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, Media, OutboundMessage, ProviderConfig, Stage
from channels.fakes.telegram import BLOCKED_CHAT, MISSING_CHAT
from channels.providers.telegram import Telegram
from tests.channels.providers.fake_hub import hub_fixture, short_timeouts_fixture, sink_fixture  # noqa: F401

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


# --- against the fake Bot API over real HTTP ------------------------------------------------------


def test_a_text_with_buttons_silent_and_no_preview_reaches_the_bot_api(hub):
    message = OutboundMessage(id="d1", to="5550001", text="<b>Sale</b> starts now",
                              options={"parse_mode": "HTML", "silent": True, "disable_link_preview": True,
                                       "buttons": [{"text": "Shop", "url": "https://shop.example.com"}]})
    [result] = make_adapter().send([message])
    assert result.ok
    [call] = hub.received("telegram", kind="call")
    assert call["method"] == "sendMessage"
    assert call["token"] == "123456:ABC-test"
    assert call["params"] == {
        "chat_id": 5550001, "text": "<b>Sale</b> starts now", "parse_mode": "HTML", "disable_notification": True,
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {"inline_keyboard": [[{"text": "Shop", "url": "https://shop.example.com"}]]},
    }
    assert result.provider_message_id.startswith("5550001:")


def test_a_photo_goes_out_with_its_caption_and_is_pinned_when_asked(hub):
    message = OutboundMessage(id="d1", to="@relaydeals", text="New arrivals",
                              media=(Media(url="https://cdn.example.com/a.jpg", content_type="image/jpeg"),),
                              options={"pin": True})
    [result] = make_adapter(settings={"parse_mode": "MarkdownV2"}).send([message])
    assert result.ok
    calls = hub.received("telegram", kind="call")
    assert [c["method"] for c in calls] == ["sendPhoto", "pinChatMessage"]
    assert calls[0]["params"] == {"chat_id": "@relaydeals", "photo": "https://cdn.example.com/a.jpg",
                                  "caption": "New arrivals", "parse_mode": "MarkdownV2"}
    chat_id, message_id = result.provider_message_id.split(":")
    assert calls[1]["params"]["chat_id"] == int(chat_id)
    assert calls[1]["params"]["message_id"] == int(message_id)


def test_a_pdf_goes_out_as_a_document(hub):
    message = OutboundMessage(id="d1", to="-100200300", text="Price list",
                              media=(Media(url="https://cdn.example.com/p.pdf", content_type="application/pdf"),))
    assert make_adapter().send([message])[0].ok
    [call] = hub.received("telegram", kind="call")
    assert call["method"] == "sendDocument"
    assert call["params"]["document"] == "https://cdn.example.com/p.pdf"


def test_a_caption_longer_than_telegram_allows_is_sent_as_media_then_text(hub):
    text = "x" * 1500
    message = OutboundMessage(id="d1", to="5550001", text=text,
                              media=(Media(url="https://cdn.example.com/a.jpg", content_type="image/jpeg"),))
    assert make_adapter().send([message])[0].ok
    calls = hub.received("telegram", kind="call")
    assert [c["method"] for c in calls] == ["sendPhoto", "sendMessage"]
    assert "caption" not in calls[0]["params"]
    assert calls[1]["params"]["text"] == text


def test_text_over_4096_characters_is_refused_without_a_call(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="5550001", text="x" * 4097)])
    assert result.error.code == "text_too_long" and result.error.permanent
    assert hub.received("telegram") == []


def test_a_user_who_blocked_the_bot_fails_permanently_and_is_suppressed(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to=str(BLOCKED_CHAT), text="hi")])
    assert result.error.permanent
    assert result.error.code == "403"
    assert result.error.message == "Forbidden: bot was blocked by the user"
    assert result.error.suppress_recipient
    assert len(hub.received("telegram", kind="call")) == 1


def test_an_unknown_chat_fails_permanently_without_suppression(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to=str(MISSING_CHAT), text="hi")])
    assert (result.error.code, result.error.message) == ("400", "Bad Request: chat not found")
    assert result.error.permanent and not result.error.suppress_recipient


def test_429_carries_telegrams_retry_after_and_stops_the_batch(hub):
    hub.fault("telegram", status=429, retry_after=12)
    results = make_adapter().send([OutboundMessage(id=f"d{i}", to="5550001", text="hi") for i in range(3)])
    assert all(not r.error.permanent and r.error.retry_after == 12 for r in results)
    assert len(hub.received("telegram", kind="call")) == 1


def test_a_bot_api_outage_is_transient(hub):
    hub.fault("telegram", status=502)
    [result] = make_adapter().send([OutboundMessage(id="d1", to="5550001", text="hi")])
    assert not result.error.permanent and result.error.code == "502"


def test_a_timeout_is_transient(hub, short_timeouts):
    hub.fault("telegram", status=0, delay=1.5)
    [result] = make_adapter().send([OutboundMessage(id="d1", to="5550001", text="hi")])
    assert result.error.code == "timeout" and not result.error.permanent


def test_a_revoked_bot_token_is_reported_with_telegrams_words(hub):
    results = make_adapter(secrets={"bot_token": "123:invalid"}).send(
        [OutboundMessage(id="d1", to="5550001", text="hi"), OutboundMessage(id="d2", to="5550002", text="hi")])
    assert [r.error.code for r in results] == ["401", "401"]
    assert "Unauthorized" in results[0].error.message
    assert len(hub.received("telegram", kind="call")) == 1


def test_test_connection_calls_get_me(hub):
    assert make_adapter().test_connection() == "@fake_relay_bot (Fake Relay Bot)"
    assert hub.received("telegram", kind="call")[0]["method"] == "getMe"


def test_set_webhook_registers_our_url_and_secret_and_updates_come_back_verifiable(hub, sink):
    adapter = make_adapter()
    assert adapter.set_webhook(sink.url) == sink.url
    [call] = hub.received("telegram", kind="call")
    assert call["params"]["secret_token"] == SECRET
    hub.simulate("telegram", "_update", chat_id=5550001, text="/stop", reply_to_message_id=42)
    [posted] = sink.wait_for(1)
    request = RequestFactory().post("/hooks/", data=posted["body"], content_type="application/json",
                                    headers={"X-Telegram-Bot-Api-Secret-Token": posted["headers"]["X-Telegram-Bot-Api-Secret-Token"]})
    assert adapter.verify_callback(request)
    [event] = adapter.parse_callback(request)
    assert (event.stage, event.keyword, event.provider_message_id) == (Stage.REPLIED, "stop", "5550001:42")
    assert not make_adapter(secrets={"webhook_secret": "another-secret"}).verify_callback(request)


def test_the_fake_posts_updates_after_the_configured_delay(hub, sink):
    adapter = make_adapter()
    adapter.set_webhook(sink.url)
    hub.configure("telegram", callback_delay=0.6)
    started = time.monotonic()
    hub.simulate("telegram", "_update", chat_id=5550001, text="thanks!", reply_to_message_id=42)
    time.sleep(0.3)
    assert sink.requests == []  # not yet
    [posted] = sink.wait_for(1)
    assert posted["at"] - started >= 0.6
    request = RequestFactory().post("/hooks/", data=posted["body"], content_type="application/json",
                                    headers={"X-Telegram-Bot-Api-Secret-Token": posted["headers"]["X-Telegram-Bot-Api-Secret-Token"]})
    assert adapter.verify_callback(request)
    [event] = adapter.parse_callback(request)
    assert (event.stage, event.text, event.provider_message_id) == (Stage.REPLIED, "thanks!", "5550001:42")
