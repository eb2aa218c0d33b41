"""SendGrid through the official SDK, against the fake SendGrid API over real HTTP."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.test import RequestFactory

from channels.base import ConfigurationError, OutboundMessage, ProviderConfig, Stage
from channels.providers.sendgrid_email import SendGridEmail
from tests.channels.providers.fake_hub import short_timeouts_fixture, sink_fixture  # noqa: F401

UNSUBSCRIBE = {"List-Unsubscribe": "<https://app.example.com/u/abc>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def make_adapter(*, api_key: str = "SG.test-key", public_key: str = "", **settings) -> SendGridEmail:
    values = {"from_email": "offers@acme.example", "from_name": "Acme Retail", "webhook_public_key": public_key,
              **settings}
    return SendGridEmail(ProviderConfig(key="sendgrid", settings=values, secrets={"api_key": api_key}))


def email(id: str = "d-1", to: str = "asha@example.com", subject: str = "Diwali offers", **kw) -> OutboundMessage:
    kw.setdefault("html", "<p>20% off</p>")
    kw.setdefault("text", "20% off")
    return OutboundMessage(id=id, to=to, subject=subject, **kw)


def event_request(item: dict):
    return RequestFactory().post("/hooks/sendgrid/x/", data=item["body"], content_type="application/json",
                                 headers={k: v for k, v in item["headers"].items() if k.startswith("X-Twilio")})


# --- sending -------------------------------------------------------------------------------------


def test_an_email_reaches_sendgrid_with_both_bodies_sender_reply_to_and_unsubscribe_headers(fakes):
    adapter = make_adapter(reply_to="care@acme.example")
    [result] = adapter.send([email(id="7b0c", headers=UNSUBSCRIBE)])
    assert result.ok and result.provider_message_id
    [call] = fakes.received("sendgrid", kind="mail")
    body = call["body"]
    assert call["api_key"] == "SG.test-key"
    assert body["from"] == {"email": "offers@acme.example", "name": "Acme Retail"}
    assert body["reply_to"] == {"email": "care@acme.example"}
    assert body["content"] == [{"type": "text/plain", "value": "20% off"}, {"type": "text/html", "value": "<p>20% off</p>"}]
    assert body["personalizations"] == [{
        "to": [{"email": "asha@example.com"}], "subject": "Diwali offers",
        "custom_args": {"delivery_id": "7b0c"}, "headers": UNSUBSCRIBE,
    }]
    assert call["message_id"] == result.provider_message_id


def test_messages_sharing_a_body_go_in_one_request_with_their_own_subjects_and_substitutions(fakes):
    messages = [email(id=f"d-{i}", to=f"c{i}@example.com", subject=f"Hi c{i}", html="<p>Hi -name-</p>",
                      text="Hi -name-", options={"substitutions": {"-name-": f"C{i}"}}) for i in range(3)]
    other = email(id="d-x", to="x@example.com", html="<p>Different</p>", text="Different")
    results = make_adapter().send([*messages, other])
    assert all(r.ok for r in results)
    calls = fakes.received("sendgrid", kind="mail")
    assert [len(c["personalizations"]) for c in calls] == [3, 1]
    assert [p["subject"] for p in calls[0]["personalizations"]] == ["Hi c0", "Hi c1", "Hi c2"]
    assert calls[0]["personalizations"][1]["substitutions"] == {"-name-": "C1"}
    assert {r.provider_message_id for r in results[:3]} == {calls[0]["message_id"]}


def test_more_than_1000_recipients_are_split_into_requests_of_1000(fakes):
    messages = [email(id=f"d-{i}", to=f"c{i}@example.com") for i in range(1001)]
    results = make_adapter().send(messages)
    assert all(r.ok for r in results)
    assert [len(c["personalizations"]) for c in fakes.received("sendgrid", kind="mail")] == [1000, 1]


def test_the_account_check_requires_the_mail_send_scope(fakes):
    assert "Mail Send" in make_adapter().test_connection()
    with pytest.raises(Exception, match="lacks the Mail Send permission"):
        make_adapter(api_key="SG.readonly").test_connection()


# --- errors --------------------------------------------------------------------------------------


def test_a_rejected_request_is_permanent_with_sendgrids_message(fakes):
    [result] = make_adapter().send([email(to="not-an-address")])
    assert result.error.permanent and result.error.code == "400"
    assert "valid address" in result.error.message


def test_a_bad_api_key_is_a_permanent_credentials_error(fakes):
    [result] = make_adapter(api_key="SG.invalid").send([email()])
    assert result.error.permanent and result.error.code == "401"


def test_an_outage_is_transient_and_later_requests_are_not_attempted(fakes):
    fakes.fault("sendgrid", status=503)
    results = make_adapter().send([email(id="a"), email(id="b", html="<p>other</p>")])
    assert [r.error.permanent for r in results] == [False, False]
    assert len(fakes.received("sendgrid", kind="mail")) == 1


def test_too_many_requests_carries_the_retry_after(fakes):
    fakes.fault("sendgrid", status=429, retry_after=12)
    [result] = make_adapter().send([email()])
    assert not result.error.permanent and result.error.retry_after == 12.0


def test_a_timeout_is_transient(fakes, short_timeouts):
    fakes.fault("sendgrid", status=202, delay=2)
    [result] = make_adapter().send([email()])
    assert not result.error.permanent and result.error.code == "timeout"


def test_missing_settings_name_the_fields(fakes):
    with pytest.raises(ConfigurationError, match="API key, From address"):
        make_adapter(api_key="", from_email="").send([email()])
    assert fakes.received("sendgrid") == []


# --- Event Webhook -------------------------------------------------------------------------------


def test_signed_events_from_sendgrid_verify_and_map_to_stages(fakes, sink):
    public_key = fakes.get("sendgrid", "public-key")["public_key"]
    fakes.configure("sendgrid", webhook_url=sink.url, events=["processed", "delivered", "open", "click"])
    adapter = make_adapter(public_key=public_key)
    [result] = adapter.send([email(id="d-42")])
    [item] = sink.wait_for(1)
    request = event_request(item)
    assert adapter.verify_callback(request)
    events = adapter.parse_callback(request)
    assert [e.stage for e in events] == [Stage.DELIVERED, Stage.READ, Stage.CLICKED]  # processed is not a stage
    assert {e.message_id for e in events} == {"d-42"}
    assert {e.provider_message_id for e in events} == {result.provider_message_id}
    assert all(e.event_id.startswith("fake-ev-") for e in events)


def test_bounces_and_drops_are_failures_with_the_reason(fakes, sink):
    fakes.configure("sendgrid", webhook_url=sink.url, events=["delivered"])
    adapter = make_adapter(public_key=fakes.get("sendgrid", "public-key")["public_key"])
    adapter.send([email(id="b", to="bounce@example.com"), email(id="x", to="dropped@example.com")])
    events = adapter.parse_callback(event_request(sink.wait_for(1)[0]))
    assert [(e.message_id, e.stage, e.error_code) for e in events] == [("b", Stage.FAILED, "5.1.1"),
                                                                      ("x", Stage.FAILED, "5.0.0")]
    assert "does not exist" in events[0].error_message


def test_tampered_stale_or_foreign_events_are_refused(fakes, sink):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public_key = fakes.get("sendgrid", "public-key")["public_key"]
    fakes.configure("sendgrid", webhook_url=sink.url)
    adapter = make_adapter(public_key=public_key)
    adapter.send([email()])
    item = sink.wait_for(1)[0]
    assert adapter.verify_callback(event_request(item))
    tampered = dict(item, body=item["body"].replace(b"delivered", b"open"))
    assert not adapter.verify_callback(event_request(tampered))
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert not make_adapter(public_key=base64.b64encode(other).decode()).verify_callback(event_request(item))
    assert not make_adapter(public_key="").verify_callback(event_request(item))
    unsigned = dict(item, headers={})
    assert not adapter.verify_callback(event_request(unsigned))


def test_events_signed_more_than_five_minutes_ago_are_refused():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    body = json.dumps([{"event": "open", "sg_event_id": "e1", "email": "a@example.com"}]).encode()

    def signed(ts: int) -> dict:
        sig = base64.b64encode(private.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        return {"body": body, "headers": {"X-Twilio-Email-Event-Webhook-Signature": sig,
                                          "X-Twilio-Email-Event-Webhook-Timestamp": str(ts)}}

    adapter = make_adapter(public_key=public)
    now = int(time.time())
    assert adapter.verify_callback(event_request(signed(now - 4 * 60)))
    assert not adapter.verify_callback(event_request(signed(now - 6 * 60)))


def test_spam_reports_and_unsubscribes_are_stop_keywords():
    events = make_adapter().parse_events([
        {"event": "spamreport", "email": "a@example.com", "sg_event_id": "e1", "delivery_id": "d-1"},
        {"event": "unsubscribe", "email": "b@example.com", "sg_event_id": "e2"},
        {"event": "deferred", "email": "c@example.com", "sg_event_id": "e3"},
    ])
    assert [(e.keyword, e.from_address, e.stage) for e in events] == [("stop", "a@example.com", None),
                                                                       ("stop", "b@example.com", None)]


def test_the_fake_posts_its_signed_events_after_the_configured_delay(fakes, sink):
    public_key = fakes.get("sendgrid", "public-key")["public_key"]
    fakes.configure("sendgrid", webhook_url=sink.url, events=["delivered"], callback_delay=0.6)
    adapter = make_adapter(public_key=public_key)
    started = time.monotonic()
    adapter.send([email(id="d-late")])
    time.sleep(0.3)
    assert sink.requests == []  # not yet
    [item] = sink.wait_for(1)
    assert item["at"] - started >= 0.6
    request = event_request(item)
    assert adapter.verify_callback(request)
    assert [e.message_id for e in adapter.parse_callback(request)] == ["d-late"]
