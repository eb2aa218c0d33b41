"""Twilio voice calls: inline TwiML, answering-machine detection and call dispositions."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, Media, OutboundMessage, ProviderConfig, Stage
from channels.providers.twilio_voice import TwilioVoice
from tests.channels.providers.fake_hub import sink_fixture  # noqa: F401

SID = "AC" + "4" * 32
TOKEN = "voice-auth-token-0123456789"


def make_adapter(callback_url: str = "https://app.example.com/hooks/twilio_voice/tok/", **settings) -> TwilioVoice:
    values = {"account_sid": SID, "from_number": "+15005550006", **settings}
    return TwilioVoice(ProviderConfig(key="twilio_voice", settings=values, secrets={"auth_token": TOKEN},
                                      callback_url=callback_url))


def as_request(item: dict, sink_url: str):
    return RequestFactory().post(item["path"], data=item["body"], content_type="application/x-www-form-urlencoded",
                                 HTTP_HOST=urlsplit(sink_url).netloc,
                                 HTTP_X_TWILIO_SIGNATURE=item["headers"].get("X-Twilio-Signature", ""))


def test_a_text_call_says_the_script_and_reports_every_call_event(fakes):
    message = OutboundMessage(id="d-1", to="+919800000001", text="Your order <42> is ready", options={"voice": "Polly.Aditi"})
    [result] = make_adapter().send([message])
    assert result.ok and result.provider_message_id.startswith("CA")
    [call] = fakes.received("twilio", resource="Call")
    params = call["params"]
    assert params["Twiml"] == ('<?xml version="1.0" encoding="UTF-8"?><Response>'
                               '<Say voice="Polly.Aditi">Your order &lt;42&gt; is ready</Say></Response>')
    assert params["StatusCallback"].endswith("?d=d-1")
    assert params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert "MachineDetection" not in params


def test_an_audio_call_plays_the_recording(fakes):
    message = OutboundMessage(id="d-1", to="+919800000001",
                              media=(Media(url="https://cdn.example.com/offer.mp3", content_type="audio/mpeg"),))
    make_adapter().send([message])
    [call] = fakes.received("twilio", resource="Call")
    assert "<Play>https://cdn.example.com/offer.mp3</Play>" in call["params"]["Twiml"]


def test_voicemail_mode_waits_for_the_beep(fakes):
    message = OutboundMessage(id="d-1", to="+919800000001", text="Hello", options={"amd": True, "amd_action": "voicemail"})
    make_adapter().send([message])
    [call] = fakes.received("twilio", resource="Call")
    assert call["params"]["MachineDetection"] == "DetectMessageEnd"
    assert "AsyncAmd" not in call["params"]


def test_an_empty_call_and_an_unknown_amd_action_are_refused_locally(fakes):
    results = make_adapter().send([
        OutboundMessage(id="d-1", to="+919800000001"),
        OutboundMessage(id="d-2", to="+919800000001", text="Hi", options={"amd": True, "amd_action": "sing"}),
    ])
    assert [r.error.code for r in results] == ["empty_message", "invalid_option"]
    assert fakes.received("twilio") == []


def test_a_caller_id_is_required():
    with pytest.raises(ConfigurationError, match="Caller ID number"):
        make_adapter(from_number="").send([OutboundMessage(id="d-1", to="+919800000001", text="Hi")])


def test_hangup_mode_ends_calls_that_reach_a_machine(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", answered_by="machine_start", call_statuses=["initiated", "in-progress", "completed"])
    adapter = make_adapter(callback_url=sink.url)
    message = OutboundMessage(id="d-7", to="+919800000001", text="Hi", options={"amd": True, "amd_action": "hangup"})
    [result] = adapter.send([message])
    [call] = fakes.received("twilio", resource="Call")
    assert (call["params"]["MachineDetection"], call["params"]["AsyncAmd"]) == ("Enable", "true")
    events = []
    for item in sink.wait_for(4):
        request = as_request(item, sink.url)
        assert adapter.verify_callback(request)
        events.extend(adapter.parse_callback(request))
    assert all(e.message_id == "d-7" and e.provider_message_id == result.provider_message_id for e in events)
    assert [e.disposition for e in events if e.event_id.endswith(":amd")] == ["machine"]
    [hangup] = fakes.received("twilio", resource="CallUpdate")
    assert hangup["call_sid"] == result.provider_message_id and hangup["params"] == {"Status": "completed"}


def test_a_busy_line_is_a_failed_call_with_disposition_busy(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", call_statuses=["initiated", "busy"])
    adapter = make_adapter(callback_url=sink.url)
    adapter.send([OutboundMessage(id="d-1", to="+919800000001", text="Hi")])
    events = [e for item in sink.wait_for(2) for e in adapter.parse_callback(as_request(item, sink.url))]
    assert [(e.stage, e.disposition) for e in events] == [(Stage.SENT, ""), (Stage.FAILED, "busy")]


@pytest.mark.parametrize(("params", "stage", "disposition"), [
    ({"CallStatus": "completed", "AnsweredBy": "human"}, Stage.DELIVERED, "answered"),
    ({"CallStatus": "completed"}, Stage.DELIVERED, "answered"),
    ({"CallStatus": "completed", "AnsweredBy": "machine_end_beep"}, Stage.DELIVERED, "machine"),
    ({"CallStatus": "no-answer"}, Stage.FAILED, "no_answer"),
    ({"CallStatus": "busy"}, Stage.FAILED, "busy"),
    ({"CallStatus": "failed", "ErrorCode": "13224"}, Stage.FAILED, "failed"),
    ({"CallStatus": "canceled"}, Stage.FAILED, "failed"),
])
def test_call_outcomes_map_to_dispositions(params, stage, disposition):
    [event] = make_adapter().parse_call_params({"CallSid": "CA1", **params}, delivery_id="d-1")
    assert (event.stage, event.disposition) == (stage, disposition)


def test_a_call_event_is_dated_by_twilios_timestamp():
    [event] = make_adapter().parse_call_params({"CallSid": "CA1", "CallStatus": "completed",
                                                "Timestamp": "Tue, 03 Nov 2026 10:15:00 +0000"})
    assert event.occurred_at.isoformat() == "2026-11-03T10:15:00+00:00"


def test_a_queued_call_reports_nothing():
    assert make_adapter().parse_call_params({"CallSid": "CA1", "CallStatus": "queued"}) == []


def test_the_fake_reports_call_events_after_the_configured_delay(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", call_statuses=["initiated", "completed"], callback_delay=0.4)
    adapter = make_adapter(callback_url=sink.url)
    started = time.monotonic()
    adapter.send([OutboundMessage(id="d-late", to="+919800000001", text="Hi")])
    time.sleep(0.2)
    assert sink.requests == []  # not yet
    initiated, completed = sink.wait_for(2)
    assert initiated["at"] - started >= 0.4 and completed["at"] - started >= 0.8
    assert all(adapter.verify_callback(as_request(item, sink.url)) for item in (initiated, completed))
    [event] = adapter.parse_callback(as_request(completed, sink.url))
    assert (event.message_id, event.disposition) == ("d-late", "answered")


def test_voicemail_text_is_left_after_the_beep_and_people_hear_the_script(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", answered_by="machine_end_beep", call_statuses=["initiated", "in-progress", "completed"])
    adapter = make_adapter(callback_url=sink.url)
    message = OutboundMessage(id="d-8", to="+919800000001", text="Your table is ready",
                              options={"amd": True, "amd_action": "voicemail",
                                       "voicemail_text": "Sorry we missed you, Asha & co. Call us back!"})
    [result] = adapter.send([message])
    [call] = fakes.received("twilio", resource="Call")
    params = call["params"]
    assert (params["MachineDetection"], params["AsyncAmd"]) == ("DetectMessageEnd", "true")
    assert "<Say" in params["Twiml"] and "Your table is ready" in params["Twiml"]  # a person hears this at once
    for item in sink.wait_for(4):
        request = as_request(item, sink.url)
        assert adapter.verify_callback(request)  # the voicemail text in the URL is covered by the signature
        adapter.parse_callback(request)
    [update] = fakes.received("twilio", resource="CallUpdate")
    assert update["call_sid"] == result.provider_message_id
    assert "Sorry we missed you, Asha &amp; co. Call us back!</Say>" in update["params"]["Twiml"]


def test_no_voicemail_is_left_when_a_person_answers(fakes, sink, settings):
    settings.ALLOWED_HOSTS = ["*"]
    fakes.configure("twilio", answered_by="human", call_statuses=["initiated", "in-progress", "completed"])
    adapter = make_adapter(callback_url=sink.url)
    adapter.send([OutboundMessage(id="d-9", to="+919800000001", text="Hi",
                                  options={"amd": True, "amd_action": "voicemail", "voicemail_text": "Call us"})])
    for item in sink.wait_for(4):
        adapter.parse_callback(as_request(item, sink.url))
    assert fakes.received("twilio", resource="CallUpdate") == []
