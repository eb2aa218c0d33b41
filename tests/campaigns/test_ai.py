"""AI Generate against a small local server speaking the OpenAI chat completions shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from campaigns import ai
from campaigns.models import Campaign

pytestmark = pytest.mark.django_db


class FakeOpenAI(BaseHTTPRequestHandler):
    reply: str = ""
    status: int = 200
    requests: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.status != 200:
            payload = {"error": {"message": "nope", "type": "server_error"}}
        else:
            payload = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": self.reply}}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(payload).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_openai(settings):
    FakeOpenAI.reply, FakeOpenAI.status, FakeOpenAI.requests = "", 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "fake-model"
    yield FakeOpenAI
    server.shutdown()
    server.server_close()


@pytest.fixture
def campaign(tenant_a):
    return Campaign.objects.create(tenant=tenant_a, name="Diwali sale", description="20% off sweets",
                                   purpose="promotional", channels=["sms", "push", "email"])


def ai_url(campaign, channel):
    return f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/wizard/ai/{channel}/"


def test_three_sms_variants_cut_to_160_characters(marketer_client, campaign, fake_openai):
    fake_openai.reply = json.dumps({"variants": [
        {"text": "Diwali sale! 20% off sweets. Reply STOP to opt out"},
        {"text": "word " * 60},
        {"text": "Hi {{ first_name }}, sweets 20% off this Diwali. Reply STOP to opt out"},
        {"text": "a fourth one is dropped"},
    ]})
    response = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.count("Use this") == 3
    assert "a fourth one" not in body
    request = fake_openai.requests[0]
    assert request["auth"] == "Bearer sk-test" and request["body"]["model"] == "fake-model"
    prompt = json.dumps(request["body"]["messages"])
    assert "Diwali sale" in prompt and "20% off sweets" in prompt and "Promotional" in prompt and "160" in prompt
    variants = ai.content_variants(campaign=campaign, channel="sms")
    assert all(len(v.values["text"]) <= 160 for v in variants)
    assert variants[1].values["text"].endswith("…")
    assert 'data-fill="{&quot;id_sms-text&quot;: &quot;Diwali sale!' in body  # picking fills the SMS field


def test_push_titles_are_held_to_50_characters(campaign, fake_openai):
    fake_openai.reply = "```json\n" + json.dumps({"variants": [
        {"title": "T" * 80, "body": "Sweets"}, {"title": "Short", "body": "Now"}]}) + "\n```"
    variants = ai.content_variants(campaign=campaign, channel="push")
    assert len(variants[0].values["title"]) == 50 and variants[1].values == {"title": "Short", "body": "Now"}


def test_errors_and_unusable_answers_are_shown_inline(marketer_client, campaign, fake_openai):
    fake_openai.status = 500
    body = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "The AI service answered with an error (500)." in body
    fake_openai.status, fake_openai.reply = 200, "Sure! Here are some ideas..."
    body = marketer_client.post(ai_url(campaign, "sms"), HTTP_HX_REQUEST="true").content.decode()
    assert "not JSON" in body


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


def test_tenant_flag_off_hides_and_refuses_the_button(marketer_client, campaign, tenant_a, fake_openai):
    tenant_a.ai_enabled = False
    tenant_a.save()
    page = marketer_client.get(f"/t/{campaign.tenant.slug}/campaigns/{campaign.pk}/edit/content/").content.decode()
    assert "switched off for this workspace" in page and "Generate variants" not in page
    body = marketer_client.post(ai_url(campaign, "sms")).content.decode()
    assert "switched off" in body and not fake_openai.requests


def test_a_channel_outside_the_campaign_is_404(marketer_client, campaign, fake_openai):
    assert marketer_client.post(ai_url(campaign, "voice")).status_code == 404
