"""WhatsApp through Twilio: whatsapp: addresses, Content templates and the 24-hour window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from channels.base import Media, OutboundMessage, ProviderConfig, Stage, TemplateRef
from channels.providers.twilio_whatsapp import TwilioWhatsApp

SID = "AC" + "3" * 32
TOKEN = "wa-auth-token-0123456789"


def make_adapter(**settings) -> TwilioWhatsApp:
    values = {"account_sid": SID, "from_number": "+14155238886", **settings}
    return TwilioWhatsApp(ProviderConfig(key="twilio_whatsapp", settings=values, secrets={"auth_token": TOKEN},
                                         callback_url="https://app.example.com/hooks/twilio_whatsapp/tok/"))


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_a_template_goes_out_as_a_content_sid_with_numbered_variables(fakes):
    template = TemplateRef(name="diwali_offer", variables=("Asha", "20%"), provider_id="HX" + "a" * 32)
    [result] = make_adapter().send([OutboundMessage(id="d-1", to="+919800000001", template=template)])
    assert result.ok and result.provider_message_id.startswith("SM")
    [call] = fakes.received("twilio", kind="message")
    params = call["params"]
    assert (params["To"], params["From"]) == ("whatsapp:+919800000001", "whatsapp:+14155238886")
    assert params["ContentSid"] == "HX" + "a" * 32
    assert json.loads(params["ContentVariables"]) == {"1": "Asha", "2": "20%"}
    assert "Body" not in params
    assert params["StatusCallback"].endswith("?d=d-1")


def test_a_template_without_a_content_sid_is_refused_before_calling_twilio(fakes):
    message = OutboundMessage(id="d-1", to="+919800000001", template=TemplateRef(name="diwali_offer"))
    [result] = make_adapter().send([message])
    assert result.error.permanent and result.error.code == "template_not_configured"
    assert fakes.received("twilio") == []


@pytest.mark.parametrize("last_inbound", [None, "not a date"])
def test_free_form_text_without_a_recent_inbound_message_is_refused_locally(fakes, last_inbound):
    options = {} if last_inbound is None else {"last_inbound_at": last_inbound}
    [result] = make_adapter().send([OutboundMessage(id="d-1", to="+919800000001", text="Hi", options=options)])
    assert result.error.permanent and result.error.code == "outside_session_window"
    assert fakes.received("twilio") == []


def test_free_form_text_25_hours_after_the_last_inbound_message_is_refused(fakes):
    message = OutboundMessage(id="d-1", to="+919800000001", text="Hi", options={"last_inbound_at": ago(hours=25)})
    [result] = make_adapter().send([message])
    assert result.error.code == "outside_session_window"
    assert fakes.received("twilio") == []


def test_free_form_text_and_media_within_the_window_are_sent(fakes):
    message = OutboundMessage(id="d-1", to="whatsapp:+919800000001", text="Your order shipped",
                              media=(Media(url="https://cdn.example.com/invoice.pdf", content_type="application/pdf"),),
                              options={"last_inbound_at": ago(hours=23)})
    [result] = make_adapter().send([message])
    assert result.ok
    [call] = fakes.received("twilio", kind="message")
    assert call["params"]["To"] == "whatsapp:+919800000001"
    assert call["params"]["Body"] == "Your order shipped"
    assert call["params"]["MediaUrl"] == ["https://cdn.example.com/invoice.pdf"]


def test_twilios_own_window_error_is_permanent(fakes):
    fakes.fault("twilio", status=400, code=63016, message="Failed to send freeform message outside the window")
    message = OutboundMessage(id="d-1", to="+919800000001", text="Hi", options={"last_inbound_at": ago(minutes=5)})
    [result] = make_adapter().send([message])
    assert result.error.permanent and result.error.code == "63016"


def test_read_receipts_and_inbound_replies_parse_with_plain_numbers():
    adapter = make_adapter()
    [read] = adapter.parse_params({"MessageSid": "SM9", "MessageStatus": "read", "To": "whatsapp:+919800000001"},
                                  delivery_id="d-9")
    assert (read.stage, read.message_id, read.event_id) == (Stage.READ, "d-9", "SM9:read")
    [reply] = adapter.parse_params({"MessageSid": "SM10", "SmsStatus": "received", "Body": "Interested!",
                                    "From": "whatsapp:+919800000001", "OriginalRepliedMessageSid": "SM9"})
    assert (reply.stage, reply.from_address, reply.provider_message_id) == (Stage.REPLIED, "+919800000001", "SM9")
    [stop] = adapter.parse_params({"MessageSid": "SM11", "SmsStatus": "received", "Body": "STOP",
                                   "From": "whatsapp:+919800000001"})
    assert stop.keyword == "stop"


def test_the_content_api_host_follows_a_fake_base_but_not_a_real_regional_one(settings):
    from channels.providers.twilio_base import rewrite_url

    settings.TWILIO_API_BASE = "http://127.0.0.1:9/twilio"
    assert rewrite_url("https://content.twilio.com/v1/Content") == "http://127.0.0.1:9/twilio/content/v1/Content"
    assert rewrite_url("https://api.twilio.com/2010-04-01/Accounts") == "http://127.0.0.1:9/twilio/2010-04-01/Accounts"
    settings.TWILIO_API_BASE = "https://api.dublin.ie1.twilio.com"
    assert rewrite_url("https://content.twilio.com/v1/Content") == "https://content.twilio.com/v1/Content"
