"""Twilio SMS through the official SDK, against the fake Twilio API over real HTTP."""

from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, OutboundMessage, ProviderConfig, ProviderError, Stage
from channels.providers.twilio_sms import TwilioSms
from tests.channels.providers.fake_hub import short_timeouts_fixture, sink_fixture  # noqa: F401

SID = "AC" + "1" * 32
TOKEN = "auth-token-0123456789abcdef"


def make_adapter(*, callback_url: str = "", unit_cost: str = "0.0079", **settings) -> TwilioSms:
    secrets = {"auth_token": settings.pop("auth_token", TOKEN)}
    values = {"account_sid": SID, "from_number": "+15005550006", **settings}
    return TwilioSms(ProviderConfig(key="twilio_sms", settings=values, secrets=secrets, unit_cost=Decimal(unit_cost),
                                    callback_url=callback_url))


def sms(to: str = "+919800000001", text: str = "Diwali sale: 20% off today", id: str = "d-1") -> OutboundMessage:
    return OutboundMessage(id=id, to=to, text=text)


def request_from_sink(captured: dict, sink_url: str):
    """Rebuild the callback the fake posted to our sink as a Django request at the same URL."""
    host = urlsplit(sink_url).netloc
    return RequestFactory().post(
        captured["path"], data=captured["body"], content_type="application/x-www-form-urlencoded",
        HTTP_HOST=host, HTTP_X_TWILIO_SIGNATURE=captured["headers"].get("X-Twilio-Signature", ""),
    )


# --- sending -------------------------------------------------------------------------------------


def test_an_sms_reaches_twilio_with_sender_body_and_a_status_callback_naming_the_delivery(fakes):
    adapter = make_adapter(callback_url="https://app.example.com/hooks/twilio_sms/tok/")
    [result] = adapter.send([sms(id="7b0c")])
    assert result.ok and result.provider_message_id.startswith("SM")
    [call] = fakes.received("twilio", kind="message")
    assert call["sid"] == SID
    params = call["params"]
    assert (params["To"], params["From"], params["Body"]) == ("+919800000001", "+15005550006",
                                                             "Diwali sale: 20% off today")
    assert params["StatusCallback"] == "https://app.example.com/hooks/twilio_sms/tok/?d=7b0c"


def test_a_messaging_service_is_used_instead_of_the_from_number_when_set(fakes):
    [result] = make_adapter(messaging_service_sid="MG" + "2" * 32).send([sms()])
    assert result.ok
    [call] = fakes.received("twilio", kind="message")
    assert call["params"]["MessagingServiceSid"] == "MG" + "2" * 32
    assert "From" not in call["params"]


def test_cost_is_the_unit_cost_times_the_number_of_parts(fakes):
    adapter = make_adapter(unit_cost="0.01")
    short, long_gsm, emoji = sms(text="a" * 160), sms(text="a" * 161, id="d-2"), sms(text="Hi 🙂 " * 20, id="d-3")
    assert [r.cost for r in adapter.send([short, long_gsm, emoji])] == [Decimal("0.01"), Decimal("0.02"),
                                                                         Decimal("0.02")]


def test_the_account_check_names_the_account(fakes):
    assert make_adapter().test_connection() == "Fake Twilio account (active)"


# --- errors --------------------------------------------------------------------------------------


def test_an_invalid_number_fails_permanently_without_suppressing_the_contact(fakes):
    [result] = make_adapter().send([sms(to="+15005550001")])
    assert result.error.permanent and result.error.code == "21211"
    assert not result.error.suppress_recipient


def test_an_unsubscribed_recipient_fails_permanently_and_must_be_suppressed(fakes):
    bad, good = sms(to="+15005550004", id="d-1"), sms(id="d-2")
    results = make_adapter().send([bad, good])
    assert results[0].error.code == "21610"
    assert results[0].error.permanent and results[0].error.suppress_recipient
    assert results[1].ok  # one bad recipient does not stop the batch


def test_a_twilio_outage_is_transient_and_the_rest_of_the_batch_is_not_attempted(fakes):
    fakes.fault("twilio", status=500)
    results = make_adapter().send([sms(id="d-1"), sms(id="d-2")])
    assert [r.ok for r in results] == [False, False]
    assert not results[0].error.permanent
    assert len(fakes.received("twilio", kind="message")) == 1


def test_too_many_requests_is_transient_with_twilios_retry_after(fakes):
    fakes.fault("twilio", status=429, retry_after=7)
    [result] = make_adapter().send([sms()])
    assert not result.error.permanent
    assert result.error.code == "20429"
    assert result.error.retry_after == 7.0


def test_a_timeout_is_transient(fakes, short_timeouts):
    fakes.fault("twilio", status=200, delay=2)
    [result] = make_adapter().send([sms()])
    assert not result.error.permanent and result.error.code == "timeout"


def test_a_wrong_auth_token_is_a_permanent_credentials_error(fakes):
    [result] = make_adapter(auth_token="invalid-token").send([sms()])
    assert result.error.permanent and result.error.code == "20003"


def test_the_account_check_with_a_wrong_token_says_the_credentials_are_bad(fakes):
    with pytest.raises(ProviderError) as caught:
        make_adapter(auth_token="invalid-token").test_connection()
    assert caught.value.permanent and caught.value.code == "20003"


def test_missing_credentials_name_the_fields_to_fill_in(fakes):
    with pytest.raises(ConfigurationError, match="Auth token"):
        make_adapter(auth_token="").send([sms()])
    assert fakes.received("twilio") == []


def test_without_a_from_number_or_messaging_service_sending_is_a_configuration_error(fakes):
    with pytest.raises(ConfigurationError, match="From number or a Messaging Service SID"):
        make_adapter(from_number="").send([sms()])


# --- callbacks -----------------------------------------------------------------------------------


def test_status_callbacks_are_signed_and_carry_our_delivery_id(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    adapter = make_adapter(callback_url=sink.url)
    [result] = adapter.send([sms(id="0f3e")])
    captured = sink.wait_for(2)
    assert len(captured) == 2
    events = []
    for item in captured:
        request = request_from_sink(item, sink.url)
        assert adapter.verify_callback(request)
        events.extend(adapter.parse_callback(request))
    assert [(e.stage, e.message_id, e.provider_message_id) for e in events] == [
        (Stage.SENT, "0f3e", result.provider_message_id), (Stage.DELIVERED, "0f3e", result.provider_message_id)]
    assert len({e.event_id for e in events}) == 2


def test_a_forged_or_tampered_callback_is_refused(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    adapter = make_adapter(callback_url=sink.url)
    adapter.send([sms(id="0f3e")])
    item = sink.wait_for(1)[0]
    tampered = dict(item, body=item["body"].replace(b"MessageStatus=sent", b"MessageStatus=delivered"))
    assert not adapter.verify_callback(request_from_sink(tampered, sink.url))
    other_delivery = dict(item, path=item["path"].replace("d=0f3e", "d=0f3f"))
    assert not adapter.verify_callback(request_from_sink(other_delivery, sink.url))
    assert not make_adapter(auth_token="another-accounts-token").verify_callback(request_from_sink(item, sink.url))
    unsigned = dict(item, headers={})
    assert not adapter.verify_callback(request_from_sink(unsigned, sink.url))


def test_a_failed_message_reports_twilios_error_code(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", message_statuses=["sent", "undelivered"], error_code="30005")
    adapter = make_adapter(callback_url=sink.url)
    adapter.send([sms()])
    last = sink.wait_for(2)[-1]
    [event] = adapter.parse_callback(request_from_sink(last, sink.url))
    assert event.stage == Stage.FAILED and event.error_code == "30005"


@pytest.mark.parametrize(("body", "keyword"), [
    ("STOP", "stop"), ("stop", "stop"), ("StopAll", "stop"), ("UNSUBSCRIBE", "stop"), ("cancel", "stop"),
    ("END", "stop"), ("quit.", "stop"), ("START", "start"), ("unstop", "start"), ("YES", "start"),
    ("HELP", "help"), ("info", "help"), ("please stop texting", ""), ("Yes please!", ""),
])
def test_inbound_compliance_keywords_are_recognised(body, keyword):
    [event] = make_adapter().parse_params({"MessageSid": "SM1", "From": "+919800000001", "Body": body,
                                           "SmsStatus": "received"})
    assert event.keyword == keyword
    assert event.stage == (None if keyword else Stage.REPLIED)
    assert event.from_address == "+919800000001" and event.text == body


def test_an_inbound_stop_posted_by_twilio_verifies_and_parses(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.simulate("twilio", "_inbound", url=sink.url, token=TOKEN, body="STOP", **{"from": "+919800000002"})
    item = sink.wait_for(1)[0]
    adapter = make_adapter()
    request = request_from_sink(item, sink.url)
    assert adapter.verify_callback(request)
    [event] = adapter.parse_callback(request)
    assert (event.keyword, event.from_address) == ("stop", "+919800000002")
    assert event.event_id.startswith("SM")


def test_the_delivery_id_replaces_any_d_already_in_the_callback_url(fakes):
    make_adapter(callback_url="https://app.example.com/hooks/x/?d=old&v=2").send([sms(id="new")])
    [call] = fakes.received("twilio", kind="message")
    query = dict(parse_qsl(urlsplit(call["params"]["StatusCallback"]).query))
    assert query == {"d": "new", "v": "2"}


def test_twilio_urls_including_edge_hosts_are_sent_to_the_configured_base(settings):
    from channels.providers.twilio_base import rewrite_url

    settings.TWILIO_API_BASE = "http://127.0.0.1:8025/twilio/"
    assert rewrite_url("https://api.twilio.com/2010-04-01/Accounts/AC1.json") == \
        "http://127.0.0.1:8025/twilio/2010-04-01/Accounts/AC1.json"
    assert rewrite_url("https://api.sydney.au1.twilio.com/2010-04-01/x") == "http://127.0.0.1:8025/twilio/2010-04-01/x"
    assert rewrite_url("https://example.com/2010-04-01/x") == "https://example.com/2010-04-01/x"


def test_the_fake_spaces_signed_status_callbacks_by_the_configured_delay(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", callback_delay=0.4)
    adapter = make_adapter(callback_url=sink.url)
    started = time.monotonic()
    adapter.send([sms(id="d-late")])
    time.sleep(0.2)
    assert sink.requests == []  # not yet
    sent, delivered = sink.wait_for(2)
    assert sent["at"] - started >= 0.4 and delivered["at"] - started >= 0.8
    for item in (sent, delivered):
        assert adapter.verify_callback(request_from_sink(item, sink.url))
    assert [e.stage for e in adapter.parse_callback(request_from_sink(delivered, sink.url))] == [Stage.DELIVERED]
