"""AI Generate through channels.ai and the fake OpenAI endpoint of the fake provider server."""

from __future__ import annotations

import json

import httpx
import pytest

from campaigns import ai
from campaigns.models import Campaign

pytestmark = pytest.mark.django_db


class OpenAIFake:
    def __init__(self, url: str) -> None:
        self.url = url + "/openai"

    def reset(self) -> None:
        httpx.delete(f"{self.url}/_received", timeout=10)

    def received(self) -> list[dict]:
        return [e for e in httpx.get(f"{self.url}/_received", timeout=10).json() if e.get("kind") == "chat"]

    def fault(self, **fault) -> None:
        httpx.post(f"{self.url}/_fault", json=fault, timeout=10).raise_for_status()


@pytest.fixture
def openai_fake(fake_providers, settings):
    settings.OPENAI_BASE_URL = fake_providers.url + "/openai/v1"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    fake = OpenAIFake(fake_providers.url)
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def campaign(tenant_a):
    return Campaign.objects.create(tenant=tenant_a, name="Diwali sale", description="20% off sweets all week",
                                   purpose="promotional", channels=["sms", "push", "email"])


def ai_url(campaign, channel):
    return f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/wizard/ai/{channel}/"


def test_three_sms_variants_from_the_campaign_brief(marketer_client, campaign, openai_fake):
    response = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.count("Use this") == 3
    [request] = openai_fake.received()
    assert request["api_key"] == "sk-test" and request["body"]["model"] == "gpt-4o-mini"
    prompt = json.dumps(request["body"]["messages"])
    assert "Diwali sale" in prompt and "20% off sweets all week" in prompt and "Promotional" in prompt
    assert "at most 160 characters" in prompt
    # The fake answers "1. [Friendly] Hi there! <text>": the tone label is dropped, the text kept.
    assert "Hi there! Diwali sale. 20% off sweets all week." in body and "[Friendly]" not in body
    # Picking a variant fills the SMS field (the JSON is escaped into the attribute).
    assert 'data-fill="{&quot;id_sms-text&quot;: &quot;Hi there! Diwali sale.' in body


def test_variants_respect_the_channel_limits(campaign, openai_fake):
    campaign.description = "Sweets " * 60  # the fake echoes the brief: far over every limit
    sms = ai.content_variants(campaign=campaign, channel="sms")
    assert len(sms) == 3 and all(len(v.values["text"]) <= 160 for v in sms)
    assert sms[0].values["text"].endswith("…")
    push = ai.content_variants(campaign=campaign, channel="push")
    assert all(len(v.values["title"]) <= 50 for v in push)


def test_a_json_answer_fills_every_field_of_the_channel():
    raw = "```json\n" + json.dumps({"variants": [
        {"subject": "S" * 250, "preheader": "Sweet week", "html": "<p>Hi</p>"},
        {"subject": "Short", "preheader": "", "html": "<p>Yo</p>"}, "not an object", 42,
    ]}) + "\n```"
    variants = ai.parse_variants(raw, "email")
    assert len(variants) == 3
    assert len(variants[0].values["subject"]) == 200 and variants[0].values["preheader"] == "Sweet week"
    assert variants[2].values["subject"] == "not an object"
    with pytest.raises(ai.AiError, match="no usable variants"):
        ai.parse_variants("Sure! Here are some ideas...", "sms")


def test_provider_errors_are_shown_inline(marketer_client, campaign, openai_fake, settings):
    openai_fake.fault(status=500)
    body = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "busy or failing" in body and "Use this" not in body
    openai_fake.fault(status=429, code="insufficient_quota")
    body = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "refused the request" in body and "quota" in body
    settings.OPENAI_API_KEY = "sk-invalid-key"
    body = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "refused the API key" in body


def test_unreachable_service_is_reported(marketer_client, campaign, settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test", "http://127.0.0.1:9/v1"
    body = marketer_client.post(ai_url(campaign, "email"), HTTP_HX_REQUEST="true").content.decode()
    assert "Could not reach the AI service" in body


def test_without_a_key_the_button_explains_how_to_enable_it(marketer_client, campaign, settings):
    settings.OPENAI_API_KEY = ""
    page = marketer_client.get(f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/edit/content/").content.decode()
    assert "set OPENAI_API_KEY" in page and "Generate variants" not in page
    body = marketer_client.post(ai_url(campaign, "sms")).content.decode()
    assert "set OPENAI_API_KEY" in body


def test_tenant_flag_off_hides_and_refuses_the_button(marketer_client, campaign, tenant_a, openai_fake):
    tenant_a.ai_enabled = False
    tenant_a.save()
    page = marketer_client.get(f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/edit/content/").content.decode()
    assert "switched off for this workspace" in page and "Generate variants" not in page
    body = marketer_client.post(ai_url(campaign, "sms")).content.decode()
    assert "switched off" in body and not openai_fake.received()


def test_a_channel_outside_the_campaign_is_404(marketer_client, campaign, openai_fake):
    assert marketer_client.post(ai_url(campaign, "voice")).status_code == 404
