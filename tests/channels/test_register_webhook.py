"""The "Register webhook" action on a Telegram config page calls setWebhook on the (fake) Bot API."""

from __future__ import annotations

import pytest

from tests.channels.conftest import create_config
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

BOT_TOKEN = "123456:ABC-secret-bot-token"
SECRET = "tg-webhook-secret-for-views"


def telegram_config(tenant, *, bot_token: str = BOT_TOKEN):
    return create_config(tenant, provider="telegram", channel="telegram", name="Bot",
                         secrets={"bot_token": bot_token, "webhook_secret": SECRET})


def register_url(tenant, config) -> str:
    return f"/t/{tenant.slug}/channels/{config.pk}/register-webhook/"


def test_registering_sends_the_configs_webhook_url_and_secret_token_to_telegram(tenant_a, owner_client, hub):
    config = telegram_config(tenant_a)

    response = owner_client.post(register_url(tenant_a, config), follow=True)

    [call] = hub.received("telegram", kind="call", method="setWebhook")
    assert call["token"] == BOT_TOKEN
    assert call["params"]["url"] == config.webhook_url
    assert call["params"]["secret_token"] == SECRET
    page = response.content.decode()
    assert f"Webhook registered: {config.provider_label} now sends updates to {config.webhook_url}" in page
    assert SECRET not in page and BOT_TOKEN not in page


def test_telegrams_refusal_is_shown_in_its_own_words(tenant_a, owner_client, hub):
    config = telegram_config(tenant_a, bot_token="123456:invalid-token")

    response = owner_client.post(register_url(tenant_a, config), follow=True)

    page = response.content.decode()
    assert "Registering the webhook failed: Telegram rejected the bot token: Unauthorized" in page
    assert "invalid-token" not in page


def test_the_button_shows_on_telegram_pages_only(tenant_a, owner_client, hub):
    telegram = telegram_config(tenant_a)
    sms = create_config(tenant_a, provider="twilio_sms", channel="sms", name="SMS",
                        settings={"account_sid": "AC" + "1" * 32, "from_number": "+15005550006"},
                        secrets={"auth_token": "t"})

    assert "Register webhook" in owner_client.get(f"/t/{tenant_a.slug}/channels/{telegram.pk}/").content.decode()
    assert "Register webhook" not in owner_client.get(f"/t/{tenant_a.slug}/channels/{sms.pk}/").content.decode()


def test_a_provider_without_a_webhook_api_gets_a_clear_message(tenant_a, owner_client, hub):
    sms = create_config(tenant_a, provider="twilio_sms", channel="sms", name="SMS", secrets={"auth_token": "t"})

    response = owner_client.post(register_url(tenant_a, sms), follow=True)

    assert "has no webhook to register: give it the URL yourself" in response.content.decode()


def test_marketers_and_analysts_cannot_register_and_nothing_reaches_telegram(
    tenant_a, marketer_client, analyst_client, hub
):
    config = telegram_config(tenant_a)

    assert marketer_client.post(register_url(tenant_a, config)).status_code == 403
    assert analyst_client.post(register_url(tenant_a, config)).status_code == 403
    assert hub.received("telegram", method="setWebhook") == []


def test_another_tenants_config_is_404(tenant_a, tenant_b, owner_client, hub):
    foreign = telegram_config(tenant_b)

    assert owner_client.post(register_url(tenant_a, foreign)).status_code == 404
    assert hub.received("telegram", method="setWebhook") == []


def test_registering_needs_a_post(tenant_a, owner_client, hub):
    config = telegram_config(tenant_a)

    assert owner_client.get(register_url(tenant_a, config)).status_code == 405
