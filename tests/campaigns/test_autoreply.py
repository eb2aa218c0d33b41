"""AI auto-replies of trained WhatsApp campaigns, end to end: a signed Meta inbound webhook, the
status engine's hook, the task, the fake OpenAI endpoint and the fake Cloud API."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
import time_machine
from django.utils import timezone

from audiences.models import ConsentState, Contact
from campaigns.ai_replies import tasks
from campaigns.models import (
    AiTrainingStatus,
    AutoReply,
    AutoReplySettings,
    Campaign,
    CampaignContent,
    CampaignRun,
    Delivery,
    ResponseTrigger,
    RunChannelStats,
)
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope
from tests.channels.conftest import create_config
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

APP_SECRET = "meta-app-secret-autoreply"
PHONE = "+919800000001"


@pytest.fixture
def eager_tasks(monkeypatch):
    """The task runs in-process when the webhook's transaction commits."""
    monkeypatch.setattr(tasks.auto_reply_handle_task, "delay",
                        lambda *args: tasks.auto_reply_handle_task.apply(args=args))


@pytest.fixture
def openai_key(settings):
    settings.OPENAI_API_KEY = "sk-test-autoreply"
    settings.OPENAI_MODEL = "gpt-4o-mini"


def make_campaign(tenant, *, trained=True, consent=ConsentState.OPTED_IN, name="Diwali sale"):
    """A sent WhatsApp campaign with one delivery to PHONE through a Meta config."""
    with tenant_scope(tenant):
        config = ChannelConfig.objects.filter(tenant=tenant, provider="meta_whatsapp").first()
    config = config or create_config(tenant, provider="meta_whatsapp", channel="whatsapp", is_default=True,
                                     settings={"phone_number_id": "1055"},
                                     secrets={"access_token": "EAAG-token", "app_secret": APP_SECRET})
    with tenant_scope(tenant):
        campaign = Campaign.objects.create(
            tenant=tenant, name=name, description="20% off all lamps until Sunday.", channels=["whatsapp"],
            ai_training_status=AiTrainingStatus.TRAINED if trained else AiTrainingStatus.NOT_TRAINED)
        CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="whatsapp",
                                       data={"mode": "session", "session_text": "Hi {{ first_name }}, lamps are 20% off!"})
        contact = (Contact.objects.filter(tenant=tenant, phone=PHONE).first()
                   or Contact.objects.create(tenant=tenant, first_name="Asha", phone=PHONE, consent_whatsapp=consent))
        run = CampaignRun.objects.create(tenant=tenant, campaign=campaign, occurrence_at=timezone.now(), status="completed")
        RunChannelStats.objects.create(tenant=tenant, run=run, campaign=campaign, channel="whatsapp", sent=1)
        delivery = Delivery.objects.create(
            tenant=tenant, run=run, campaign=campaign, contact=contact, channel="whatsapp", address=PHONE,
            status="delivered", channel_config=config, provider_message_id="wamid.out1",
            sent_at=timezone.now() - dt.timedelta(hours=1), delivered_at=timezone.now() - dt.timedelta(hours=1))
    return campaign, delivery, config


def add_trigger(campaign, **kw):
    with tenant_scope(campaign.tenant):
        kw.setdefault("kind", "keyword")
        return ResponseTrigger.objects.create(tenant=campaign.tenant, campaign=campaign, **kw)


def set_instruction(campaign, text):
    with tenant_scope(campaign.tenant):
        AutoReplySettings.objects.create(tenant=campaign.tenant, campaign=campaign, instruction=text)


def inbound(client, config, text, *, message_id="wamid.in1", when=None):
    """Post a signed Meta inbound text message to the config's webhook."""
    stamp = int((when or timezone.now()).timestamp())
    value = {"messaging_product": "whatsapp", "messages": [
        {"from": PHONE.lstrip("+"), "id": message_id, "timestamp": str(stamp), "type": "text", "text": {"body": text}}]}
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(config.webhook_path, data=body, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 200
    return response


def replies(tenant):
    with tenant_scope(tenant):
        return list(AutoReply.objects.select_related("trigger").order_by("created_at"))


def sent_texts(hub):
    return [e["body"]["text"]["body"] for e in hub.received("meta", kind="message")]


@pytest.fixture
def deliver(client, hub, eager_tasks, openai_key, django_capture_on_commit_callbacks):
    def post(config, text, **kw):
        with django_capture_on_commit_callbacks(execute=True):
            inbound(client, config, text, **kw)
    return post


# --- answering ------------------------------------------------------------------------------------

def test_a_reply_matching_a_keyword_trigger_gets_its_rendered_template(tenant_a, hub, deliver):
    campaign, delivery, config = make_campaign(tenant_a)
    trigger = add_trigger(campaign, keywords=["price", "how much"], response="Hi {{ first_name }}, lamps start at ₹499.")

    deliver(config, "How much is the brass lamp?")

    [row] = replies(tenant_a)
    assert (row.status, row.source, row.trigger_id) == ("sent", "trigger", trigger.pk)
    assert row.reply_text == "Hi Asha, lamps start at ₹499."
    [message] = hub.received("meta", kind="message")
    assert message["to"] == PHONE.lstrip("+") and message["type"] == "text"
    assert message["body"]["text"]["body"] == "Hi Asha, lamps start at ₹499."
    assert row.provider_message_id  # the Cloud API's wamid, for support
    assert hub.received("openai") == []  # a trigger costs no AI call
    delivery.refresh_from_db()
    assert delivery.status == "replied" and delivery.reply_text == "How much is the brass lamp?"


def test_a_reply_no_trigger_covers_is_answered_by_the_ai_from_the_campaign_and_instruction(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    set_instruction(campaign, "Be warm. Stores open 10am-8pm.")

    deliver(config, "Are you open on Sunday?")

    [row] = replies(tenant_a)
    # The fake model answers the contact's message in its friendly tone.
    assert (row.status, row.source) == ("sent", "ai")
    assert row.reply_text == "[Friendly] Hi there! Are you open on Sunday? 😊"
    assert sent_texts(hub) == [row.reply_text]
    [chat] = hub.received("openai", kind="chat")
    system = chat["body"]["messages"][0]["content"]
    assert "Diwali sale" in system and "20% off all lamps" in system and "Stores open 10am-8pm." in system
    assert "HANDOVER" in system  # the model is told how to say it is unsure
    assert chat["body"]["messages"][-1] == {"role": "user", "content": "Are you open on Sunday?"}


def test_a_contact_asking_to_talk_to_a_human_is_handed_over_without_any_reply(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")

    deliver(config, "What's the price? I want to talk to a human please")

    [row] = replies(tenant_a)
    assert (row.status, row.source) == ("handover", "handover")
    assert row.note == "The contact asked for a person."
    assert hub.received("meta", kind="message") == [] and hub.received("openai") == []


def test_when_the_model_answers_handover_the_reply_goes_to_a_person(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    set_instruction(campaign, "Only talk about the lamp sale.")

    # The fake model echoes the message into its answer, so this message makes it say HANDOVER.
    deliver(config, "HANDOVER")

    [row] = replies(tenant_a)
    assert (row.status, row.source, row.reply_text) == ("handover", "handover", "")
    assert row.note == "The AI was not sure of the answer."
    assert len(hub.received("openai", kind="chat")) == 1
    assert hub.received("meta", kind="message") == []


def test_an_ai_outage_hands_the_reply_over_instead_of_losing_it(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    set_instruction(campaign, "Be brief.")
    hub.fault("openai", status=500, count=1)

    deliver(config, "Do you deliver to Pune?")

    [row] = replies(tenant_a)
    assert row.status == "handover" and row.note.startswith("The AI could not answer")
    assert hub.received("meta", kind="message") == []


def test_an_opted_out_contact_gets_no_auto_reply(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a, consent=ConsentState.OPTED_OUT)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")

    deliver(config, "price?")

    [row] = replies(tenant_a)
    assert row.status == "skipped" and row.note == "The contact opted out of WhatsApp."
    assert hub.received("meta", kind="message") == []


def test_a_stop_message_is_left_to_consent_handling_and_gets_no_answer(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    set_instruction(campaign, "Be warm.")

    deliver(config, "STOP")

    assert replies(tenant_a) == []
    assert hub.received("meta", kind="message") == [] and hub.received("openai") == []


def test_a_campaign_that_is_not_trained_answers_nothing(tenant_a, hub, deliver):
    campaign, delivery, config = make_campaign(tenant_a, trained=False)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")

    deliver(config, "price?")

    assert replies(tenant_a) == []
    assert hub.received("meta", kind="message") == []
    delivery.refresh_from_db()
    assert delivery.reply_text == "price?"  # still recorded as a reply, just not answered


def test_processing_delayed_past_the_24_hour_window_sends_nothing(tenant_a, hub, client, openai_key,
                                                                 django_capture_on_commit_callbacks):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inbound(client, config, "price?")
    [row] = replies(tenant_a)
    assert row.status == "pending" and len(callbacks) == 1

    with time_machine.travel(timezone.now() + dt.timedelta(hours=25), tick=False):
        tasks.auto_reply_handle_task.apply(args=(tenant_a.pk, str(row.pk)))

    [row] = replies(tenant_a)
    assert row.status == "skipped" and "24 hours" in row.note
    assert hub.received("meta", kind="message") == []


def test_a_replayed_task_answers_once(tenant_a, hub, deliver):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    deliver(config, "price?")
    [row] = replies(tenant_a)

    tasks.auto_reply_handle_task.apply(args=(tenant_a.pk, str(row.pk)))

    assert sent_texts(hub) == ["From ₹499."]


def test_auto_replies_and_handovers_are_listed_on_the_campaign_page(tenant_a, hub, deliver, marketer_client):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    deliver(config, "price?", message_id="wamid.a")
    deliver(config, "let me speak to an agent", message_id="wamid.b")

    page = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/").content.decode()

    assert "AI replies" in page and "From ₹499." in page and "let me speak to an agent" in page
    assert "Needs a person" in page and "Trigger" in page
    assert f"/campaigns/{campaign.pk}/ai/" in page


def test_an_intent_the_model_recognises_gets_that_triggers_template(tenant_a, hub, deliver, monkeypatch):
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, kind="intent", intent="asks where the store is", response="{{ first_name }}, we're on MG Road.")
    prompts = []

    def model(*, messages, **kwargs):
        # The fake echoes; a real model answers the way the prompt asks when an intent matches.
        prompts.append(messages[0]["content"])
        return "INTENT 1"

    monkeypatch.setattr("channels.ai.chat_complete", model)
    deliver(config, "where can I find you?")

    [row] = replies(tenant_a)
    assert (row.status, row.source, row.reply_text) == ("sent", "trigger", "Asha, we're on MG Road.")
    assert "1. asks where the store is" in prompts[0]
    assert sent_texts(hub) == ["Asha, we're on MG Road."]


def test_with_ai_switched_off_triggers_still_answer_and_the_rest_is_handed_over(tenant_a, hub, deliver):
    tenant_a.ai_enabled = False
    tenant_a.save()
    campaign, _, config = make_campaign(tenant_a)
    add_trigger(campaign, keywords=["price"], response="From ₹499.")
    set_instruction(campaign, "Be warm.")

    deliver(config, "price?", message_id="wamid.a")
    deliver(config, "Open on Sunday?", message_id="wamid.b")

    first, second = replies(tenant_a)
    assert (first.source, first.status) == ("trigger", "sent")
    assert (second.source, second.status) == ("handover", "handover") and "AI is switched off" in second.note
    assert hub.received("openai") == []
