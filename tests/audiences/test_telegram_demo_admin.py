"""The demo's Telegram bot (groups, channels, subscribers) and the system admin pages of the Telegram models."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audiences.models import (
    ConsentEvent,
    ConsentState,
    TelegramChat,
    TelegramDirectMessage,
    TelegramSubscriber,
)
from tenants.models import Tenant
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse
from tests.audiences.test_telegram_pages import add_chat, bot_config, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345-secure")
    client.force_login(user)
    return client


@pytest.fixture
def acme(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Tenant.objects.get(slug="acme")


def test_the_demo_bot_has_groups_channels_and_subscribers(acme, client):
    with tenant_scope(acme):
        chats = list(TelegramChat.objects.filter(tenant=acme))
        active = [c for c in chats if c.is_active]
        assert {c.type for c in active} == {"group", "supergroup", "channel"}
        assert all(c.member_count for c in chats) and any(not c.is_active for c in chats)
        subscribers = TelegramSubscriber.objects.filter(tenant=acme).select_related("contact")
        assert subscribers.count() > 50
        assert all(s.contact.telegram_username for s in subscribers)
        blocked = subscribers.filter(blocked_at__isnull=False).get()
        assert blocked.contact.telegram_chat_id == "" and blocked.contact.consent_telegram == ConsentState.OPTED_OUT
        assert ConsentEvent.objects.filter(contact=blocked.contact, evidence__action="telegram_block").exists()

    client.force_login(get_user_model().objects.get(username="acme-marketer"))
    groups = client.get(tenant_reverse(acme, "audiences:telegram_groups")).content.decode()
    assert "Mumbai deals" in groups and "Acme offers" in groups and "12,450" in groups
    page = client.get(tenant_reverse(acme, "audiences:telegram_subscribers")).content.decode()
    assert "Blocked" in page and "Subscribed" in page
    # The sandbox bot keeps the counts it has when the marketer presses Refresh.
    response = client.post(tenant_reverse(acme, "audiences:telegram_groups_refresh"), follow=True)
    assert "Member counts refreshed for 5 groups" in response.content.decode()
    with tenant_scope(acme):
        assert TelegramChat.objects.get(tenant=acme, title="Acme offers").member_count == 12450


def test_admin_lists_telegram_chats_subscribers_and_messages_across_tenants(admin_client, tenant_a, tenant_b):
    config_a = bot_config(tenant_a)
    config_b = bot_config(tenant_b, token="654321:XYZ-test")
    chat = add_chat(tenant_a, config_a, title="Pune deals", member_count=301)
    add_chat(tenant_b, config_b, chat_id=-100888, title="Boston deals")
    subscriber = subscribe(tenant_a)
    with tenant_scope(tenant_a):
        TelegramDirectMessage.objects.create(tenant=tenant_a, contact=subscriber.contact, chat_id="5550001",
                                             text="Your order shipped", status="sent")

    listing = admin_client.get("/admin/audiences/telegramchat/").content.decode()
    assert "Pune deals" in listing and "Boston deals" in listing and "301" in listing
    assert "By tenant" in listing or "tenant" in listing.lower()
    assert "Boston deals" not in admin_client.get("/admin/audiences/telegramchat/",
                                                  {"tenant__id__exact": tenant_a.pk}).content.decode()
    page = admin_client.get(f"/admin/audiences/telegramchat/{chat.pk}/change/").content.decode()
    assert 'name="chat_id"' not in page and 'name="bot_status"' not in page and "-100777" in page  # read-only ids

    found = admin_client.get("/admin/audiences/telegramsubscriber/", {"q": "asha_r"}).content.decode()
    assert "@asha_r" in found and "5550001" in found
    sub_page = admin_client.get(f"/admin/audiences/telegramsubscriber/{subscriber.pk}/change/")
    assert sub_page.status_code == 200 and 'name="chat_id"' not in sub_page.content.decode()
    assert admin_client.get("/admin/audiences/telegramsubscriber/add/").status_code == 403
    assert "Your order shipped" in admin_client.get("/admin/audiences/telegramdirectmessage/").content.decode()
