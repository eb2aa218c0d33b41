from __future__ import annotations

from campaigns.content import (
    EmailContent,
    SmsContent,
    TelegramContent,
    VoiceContent,
    WhatsAppContent,
    content_for,
    sanitize_html,
)

CTX = {"first_name": "Asha", "city": "Pune", "custom": {}}


def test_email_renders_subject_html_and_a_generated_text_part():
    email = EmailContent(subject="Hi {{ first_name }}", html="<h1>Sale in {{ city }}</h1><p>Up to <b>50%</b> off.</p>")
    rendered = email.render(CTX)
    assert rendered["subject"] == "Hi Asha"
    assert "<h1>Sale in Pune</h1>" in rendered["html"]
    assert rendered["text"] == "Sale in Pune\n\nUp to 50% off."


def test_email_needs_a_subject_and_a_body():
    assert EmailContent().errors() == {"subject": ["An email needs a subject."], "html": ["Write the email body."]}


def test_template_errors_point_at_their_field():
    errors = SmsContent(text="Hi {{ frist_name }}").errors()
    assert list(errors) == ["text"] and "Unknown variable" in errors["text"][0]


def test_whatsapp_template_mode_needs_a_template_and_renders_variables():
    assert "template_id" in WhatsAppContent(mode="template").errors()
    content = WhatsAppContent(template_id="t1", variables=["{{ first_name }}", "{{ city | default: \"your city\" }}"])
    assert content.render(CTX) == {"template_variables": ["Asha", "Pune"]}


def test_telegram_caption_limit_and_buttons_are_checked():
    content = TelegramContent(text="x" * 1100, media_id="m1", buttons=[{"text": "Shop", "url": "javascript:alert(1)"}])
    errors = content.errors()
    assert "caption" in errors["text"][0]
    assert errors["buttons"] == ["Each button needs a label and an http(s) link."]


def test_voice_defaults_follow_the_product_defaults():
    voice = content_for("voice", {"script": "Hello {{ first_name }}"})
    assert isinstance(voice, VoiceContent)
    assert (voice.max_concurrent, voice.max_retries, voice.retry_delay) == (1, 0, 60)
    assert voice.errors() == {}


def test_preview_html_is_sanitized():
    cleaned = sanitize_html('<p onclick="x()">Hi</p><script>alert(1)</script><a href="javascript:alert(1)">x</a>')
    assert "script" not in cleaned and "onclick" not in cleaned and "javascript:" not in cleaned
