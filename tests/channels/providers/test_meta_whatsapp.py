"""WhatsApp through Meta's Cloud API: compliance, webhooks and the send matrix against the fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from channels.base import (
    ConfigurationError,
    Media,
    OutboundMessage,
    ProviderConfig,
    Stage,
    TemplateRef,
)
from channels.fakes.meta import DEFAULT_APP_SECRET
from channels.providers.meta_whatsapp import MetaWhatsApp
from tests.channels.providers.fake_hub import hub_fixture, short_timeouts_fixture, sink_fixture  # noqa: F401

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"


def make_adapter(**overrides) -> MetaWhatsApp:
    settings = {"phone_number_id": "1098765432", **overrides.pop("settings", {})}
    secrets = {"access_token": "EAAG-test-token", "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
               **overrides.pop("secrets", {})}
    return MetaWhatsApp(ProviderConfig(key="meta_whatsapp", settings=settings, secrets=secrets, **overrides))


def signed_post(body: dict, *, secret: str = APP_SECRET, signature: str | None = None):
    raw = json.dumps(body).encode()
    sig = signature if signature is not None else "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return RequestFactory().post("/hooks/meta_whatsapp/x/", data=raw, content_type="application/json",
                                 headers={"X-Hub-Signature-256": sig})


def webhook(value: dict) -> dict:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1098765432"},
                **value}}]}]}


# --- the 24-hour customer service window ---------------------------------------------------------


@pytest.fixture
def unreachable_api(settings):
    # Any HTTP call would fail with a network error instead of the compliance error.
    settings.WHATSAPP_API_BASE = "http://127.0.0.1:9"


def test_free_form_text_without_any_inbound_message_is_refused_before_calling_meta(unreachable_api):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", text="Hi there")])
    assert not result.ok
    assert result.error.code == "outside_session_window"
    assert result.error.permanent


def test_free_form_text_25_hours_after_the_last_inbound_message_is_refused(unreachable_api):
    last = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", text="Hi", options={"last_inbound_at": last})])
    assert result.error.code == "outside_session_window"


def test_an_inbound_stamp_a_minute_in_the_future_counts_as_inside_the_window():
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    payload = make_adapter().build_payload(OutboundMessage(id="d1", to="+919800000001", text="Hi", options={"last_inbound_at": soon}))
    assert payload["type"] == "text"


def test_free_form_text_within_24_hours_builds_a_session_text_message():
    last = (datetime.now(UTC) - timedelta(hours=23)).isoformat()
    payload = make_adapter().build_payload(OutboundMessage(id="d1", to="+91 98000 00001", text="Hi", options={"last_inbound_at": last}))
    assert payload["type"] == "text"
    assert payload["text"]["body"] == "Hi"
    assert payload["to"] == "919800000001"
    assert payload["biz_opaque_callback_data"] == "d1"


def test_templates_are_allowed_outside_the_window():
    message = OutboundMessage(id="d1", to="+919800000001", template=TemplateRef(name="diwali_sale", language="en_US", variables=("Asha", "20%")))
    payload = make_adapter().build_payload(message)
    assert payload["type"] == "template"
    assert payload["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "20%"}]}
    ]


def test_missing_credentials_name_the_missing_settings():
    adapter = MetaWhatsApp(ProviderConfig(key="meta_whatsapp", settings={}, secrets={}))
    with pytest.raises(ConfigurationError, match="Phone number ID, Access token"):
        adapter.send([OutboundMessage(id="d1", to="+15550001", template=TemplateRef(name="t"))])


# --- webhooks --------------------------------------------------------------------------------------


def test_a_correctly_signed_webhook_is_accepted():
    assert make_adapter().verify_callback(signed_post(webhook({"statuses": []})))


@pytest.mark.parametrize("signature", [
    None,  # signed with another secret, below
    "sha256=" + "0" * 64,
    "",
    "sha1=abc",
])
def test_forged_or_unsigned_webhooks_are_refused(signature):
    request = signed_post(webhook({"statuses": []}), secret="not-the-app-secret", signature=signature)
    assert not make_adapter().verify_callback(request)


def test_a_body_changed_after_signing_is_refused():
    good = signed_post(webhook({"statuses": []}))
    tampered = RequestFactory().post("/h/", data=good.body.replace(b"WABA1", b"WABA2"), content_type="application/json",
                                     headers={"X-Hub-Signature-256": good.headers["X-Hub-Signature-256"]})
    assert not make_adapter().verify_callback(tampered)


def test_without_an_app_secret_nothing_verifies():
    adapter = make_adapter(secrets={"app_secret": ""})
    assert not adapter.verify_callback(signed_post(webhook({}), secret=""))


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_token():
    request = RequestFactory().get("/h/", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    response = make_adapter().verify_subscription(request)
    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_the_subscription_handshake_refuses_a_wrong_token():
    request = RequestFactory().get("/h/", {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert make_adapter().verify_subscription(request).status_code == 403


def test_a_plain_get_is_not_a_handshake():
    assert make_adapter().verify_subscription(RequestFactory().get("/h/")) is None


def test_statuses_arriving_out_of_order_each_carry_their_stage_and_our_delivery_id():
    body = webhook({"statuses": [
        {"id": "wamid.A", "status": "read", "timestamp": "1700000300", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
        {"id": "wamid.A", "status": "sent", "timestamp": "1700000100", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
        {"id": "wamid.A", "status": "delivered", "timestamp": "1700000200", "recipient_id": "919800000001", "biz_opaque_callback_data": "d1"},
    ]})
    events = make_adapter().parse_callback(signed_post(body))
    assert [e.stage for e in events] == [Stage.READ, Stage.SENT, Stage.DELIVERED]
    assert {e.message_id for e in events} == {"d1"}
    assert {e.provider_message_id for e in events} == {"wamid.A"}
    assert events[0].occurred_at == datetime.fromtimestamp(1700000300, tz=UTC)
    assert len({e.event_id for e in events}) == 3


def test_a_failed_status_carries_metas_error_code_and_text():
    body = webhook({"statuses": [{"id": "wamid.B", "status": "failed", "timestamp": "1700000100", "recipient_id": "1",
                                  "errors": [{"code": 131047, "title": "Re-engagement message",
                                              "error_data": {"details": "More than 24 hours have passed"}}]}]})
    [event] = make_adapter().parse_callback(signed_post(body))
    assert event.stage == Stage.FAILED
    assert event.error_code == "131047"
    assert "More than 24 hours" in event.error_message


@pytest.mark.parametrize(("text", "keyword"), [("STOP", "stop"), (" stop ", "stop"), ("Unsubscribe", "stop"),
                                               ("START", "start"), ("help", "help"), ("stop sending me deals?", "")])
def test_inbound_replies_are_recorded_with_compliance_keywords(text, keyword):
    body = webhook({
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": "919800000001"}],
        "messages": [{"from": "919800000001", "id": "wamid.IN1", "timestamp": "1700000400", "type": "text",
                      "text": {"body": text}, "context": {"from": "15550001111", "id": "wamid.A"}}],
    })
    [event] = make_adapter().parse_callback(signed_post(body))
    assert event.stage == Stage.REPLIED
    assert event.from_address == "+919800000001"
    assert event.text == text
    assert event.keyword == keyword
    assert event.provider_message_id == "wamid.A"


# --- against the fake Cloud API over real HTTP ---------------------------------------------------



def recent_inbound() -> dict:
    return {"last_inbound_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}


def test_a_template_with_variables_and_header_image_reaches_meta_with_our_delivery_id(hub):
    template = TemplateRef(name="diwali_sale", language="en_US", variables=("Asha", "20%"),
                           header_media=Media(url="https://cdn.example.com/sale.jpg", content_type="image/jpeg"))
    [result] = make_adapter().send([OutboundMessage(id="d-100", to="+919800000001", template=template)])
    assert result.ok
    assert result.provider_message_id.startswith("wamid.")
    [call] = hub.received("meta", kind="message")
    assert call["path"] == "/meta/v21.0/1098765432/messages"
    assert call["authorization"] == "Bearer EAAG-test-token"
    assert call["delivery_id"] == "d-100"
    body = call["body"]
    assert body["to"] == "919800000001"
    assert body["template"] == {
        "name": "diwali_sale", "language": {"code": "en_US"},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/sale.jpg"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "20%"}]},
        ],
    }


def test_a_session_image_with_caption_is_sent_inside_the_window(hub):
    message = OutboundMessage(id="d-101", to="+919800000001", text="Your order shipped",
                              media=(Media(url="https://cdn.example.com/box.png", content_type="image/png"),),
                              options=recent_inbound())
    [result] = make_adapter().send([message])
    assert result.ok
    [call] = hub.received("meta", kind="message")
    assert call["body"]["type"] == "image"
    assert call["body"]["image"] == {"link": "https://cdn.example.com/box.png", "caption": "Your order shipped"}


def test_the_outside_window_refusal_makes_no_http_call(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", text="Hi")])
    assert result.error.code == "outside_session_window"
    assert hub.received("meta") == []


def test_a_recipient_who_stopped_marketing_fails_permanently_and_is_suppressed(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+1555131050", template=TemplateRef(name="promo"))])
    assert result.error.permanent
    assert result.error.code == "131050"
    assert "stop receiving marketing messages" in result.error.message
    assert result.error.suppress_recipient
    assert len(hub.received("meta", kind="message")) == 1


def test_an_undeliverable_number_fails_without_suppression(hub):
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+1555131026", template=TemplateRef(name="promo"))])
    assert result.error.permanent and result.error.code == "131026"
    assert not result.error.suppress_recipient


def test_a_server_error_is_transient_and_the_rest_of_the_batch_waits(hub):
    hub.fault("meta", status=503, count=1)
    messages = [OutboundMessage(id=f"d{i}", to=f"+91980000000{i}", template=TemplateRef(name="promo")) for i in range(3)]
    results = make_adapter().send(messages)
    assert [r.error.permanent for r in results] == [False, False, False]
    assert len(hub.received("meta", kind="message")) == 1


def test_429_is_transient_with_the_retry_after_meta_sent(hub):
    hub.fault("meta", status=429, retry_after=7, code=130429)
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", template=TemplateRef(name="promo"))])
    assert not result.error.permanent
    assert result.error.retry_after == 7
    assert result.error.code == "130429"


def test_a_timeout_is_transient(hub, short_timeouts):
    hub.fault("meta", status=0, delay=1.5)
    [result] = make_adapter().send([OutboundMessage(id="d1", to="+919800000001", template=TemplateRef(name="promo"))])
    assert result.error.code == "timeout"
    assert not result.error.permanent


def test_an_expired_token_fails_the_batch_with_graph_code_190_after_one_call(hub):
    adapter = make_adapter(secrets={"access_token": "expired-token"})
    results = adapter.send([OutboundMessage(id=f"d{i}", to="+919800000001", template=TemplateRef(name="p")) for i in range(3)])
    assert {r.error.code for r in results} == {"190"}
    assert all(r.error.permanent for r in results)
    assert len(hub.received("meta", kind="message")) == 1


def test_test_connection_names_the_business_number(hub):
    assert make_adapter().test_connection() == "Fake Business (+1 555-000-1111)"


def test_test_connection_reports_metas_own_error_text(hub):
    with pytest.raises(Exception, match="Session has expired") as caught:
        make_adapter(secrets={"access_token": "expired-token"}).test_connection()
    assert caught.value.code == "190"


def test_status_webhooks_from_meta_are_signed_and_carry_our_delivery_id(hub, sink):
    hub.configure("meta", webhook_url=sink.url, app_secret=APP_SECRET, callback_delay=0)
    [result] = make_adapter().send([OutboundMessage(id="d-777", to="+919800000001", template=TemplateRef(name="promo"))])
    callbacks = sink.wait_for(3)
    assert len(callbacks) == 3
    adapter = make_adapter()
    stages = []
    for callback in callbacks:
        request = RequestFactory().post("/hooks/", data=callback["body"], content_type="application/json",
                                        headers={"X-Hub-Signature-256": callback["headers"]["X-Hub-Signature-256"]})
        assert adapter.verify_callback(request)
        [event] = adapter.parse_callback(request)
        assert event.message_id == "d-777"
        assert event.provider_message_id == result.provider_message_id
        stages.append(event.stage)
    assert sorted(stages) == [Stage.SENT, Stage.DELIVERED, Stage.READ]


def test_an_inbound_stop_from_the_fake_is_parsed_as_a_keyword(hub, sink):
    hub.configure("meta", webhook_url=sink.url, app_secret=APP_SECRET, callback_delay=0, auto_statuses=[])
    hub.simulate("meta", "_inbound", **{"from": "+919800000001", "text": "STOP", "context_id": "wamid.X"})
    [callback] = sink.wait_for(1)
    request = RequestFactory().post("/hooks/", data=callback["body"], content_type="application/json",
                                    headers={"X-Hub-Signature-256": callback["headers"]["X-Hub-Signature-256"]})
    adapter = make_adapter()
    assert adapter.verify_callback(request)
    [event] = adapter.parse_callback(request)
    assert (event.stage, event.keyword, event.from_address, event.provider_message_id) == (Stage.REPLIED, "stop", "+919800000001", "wamid.X")


def test_a_webhook_signed_with_the_fakes_default_secret_is_refused_by_a_config_with_another_secret(hub, sink):
    hub.configure("meta", webhook_url=sink.url, app_secret=DEFAULT_APP_SECRET, callback_delay=0, auto_statuses=["sent"])
    make_adapter().send([OutboundMessage(id="d1", to="+919800000001", template=TemplateRef(name="promo"))])
    [callback] = sink.wait_for(1)
    request = RequestFactory().post("/hooks/", data=callback["body"], content_type="application/json",
                                    headers={"X-Hub-Signature-256": callback["headers"]["X-Hub-Signature-256"]})
    assert not make_adapter().verify_callback(request)


def test_the_fake_posts_signed_statuses_after_the_configured_delay(hub, sink):
    hub.configure("meta", webhook_url=sink.url, app_secret=APP_SECRET, callback_delay=0.6, auto_statuses=["delivered"])
    started = time.monotonic()
    make_adapter().send([OutboundMessage(id="d-late", to="+919800000001", template=TemplateRef(name="promo"))])
    time.sleep(0.3)
    assert sink.requests == []  # not yet
    [callback] = sink.wait_for(1)
    assert callback["at"] - started >= 0.6
    request = RequestFactory().post("/hooks/", data=callback["body"], content_type="application/json",
                                    headers={"X-Hub-Signature-256": callback["headers"]["X-Hub-Signature-256"]})
    assert make_adapter().verify_callback(request)
    assert [(e.stage, e.message_id) for e in make_adapter().parse_callback(request)] == [(Stage.DELIVERED, "d-late")]
