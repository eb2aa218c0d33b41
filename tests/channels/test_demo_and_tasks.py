"""Demo seed of sandbox channels and social accounts; pruning of old webhook event ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from channels.models import ChannelConfig, ProcessedWebhookEvent
from social_accounts.models import SocialAccount
from tenants.models import CHANNEL_KEYS, Tenant
from tenants.scoping import scopes_disabled, tenant_scope
from tests.channels.conftest import create_config

pytestmark = pytest.mark.django_db


def test_the_demo_tenants_get_a_default_sandbox_config_for_every_channel_and_two_social_accounts():
    call_command("seed_demo")
    call_command("seed_demo")
    for slug in ("acme", "globex"):
        tenant = Tenant.objects.get(slug=slug)
        with tenant_scope(tenant):
            configs = list(ChannelConfig.objects.all())
            accounts = list(SocialAccount.objects.all())
        assert sorted(c.channel for c in configs) == sorted(CHANNEL_KEYS)
        assert all(c.provider == "sandbox" and c.enabled and c.is_default for c in configs)
        assert {a.status for a in accounts} == {"connected", "expired"}
    acme = Tenant.objects.get(slug="acme")
    with tenant_scope(acme):
        assert ChannelConfig.objects.get(channel="sms").unit_cost > 0


def test_the_demo_outbox_receives_a_real_send(tenant_a):
    from channels.base import OutboundMessage
    from channels.models import OutboxMessage
    from channels.selectors import channel_adapter, channel_config_for

    call_command("seed_demo")
    acme = Tenant.objects.get(slug="acme")
    with tenant_scope(acme):
        config = channel_config_for(tenant=acme, channel="whatsapp")
        [result] = channel_adapter(config).send([OutboundMessage(id="d1", to="+919800000001", text="Hi")])
        assert result.ok and OutboxMessage.objects.get().channel == "whatsapp"


def test_channel_config_for_picks_the_default_or_the_only_enabled_config(tenant_a):
    from channels.selectors import channel_config_for

    with tenant_scope(tenant_a):
        assert channel_config_for(tenant=tenant_a, channel="sms") is None
    only = create_config(tenant_a, channel="sms", name="Only")
    with tenant_scope(tenant_a):
        assert channel_config_for(tenant=tenant_a, channel="sms") == only
    create_config(tenant_a, channel="sms", name="Second")
    with tenant_scope(tenant_a):
        assert channel_config_for(tenant=tenant_a, channel="sms") is None  # ambiguous: no default
    default = create_config(tenant_a, channel="email", name="Default mail", is_default=True)
    create_config(tenant_a, channel="email", name="Other mail")
    with tenant_scope(tenant_a):
        assert channel_config_for(tenant=tenant_a, channel="email") == default
    tenant_a.email_enabled = False
    tenant_a.save()
    with tenant_scope(tenant_a):
        assert channel_config_for(tenant=tenant_a, channel="email") is None


def test_old_webhook_event_ids_are_pruned_and_recent_ones_kept(tenant_a):
    from channels.tasks import webhook_events_prune_task

    config = create_config(tenant_a, channel="sms")
    with tenant_scope(tenant_a):
        old = ProcessedWebhookEvent.objects.create(tenant=tenant_a, config=config, event_id="old")
        ProcessedWebhookEvent.objects.create(tenant=tenant_a, config=config, event_id="new")
        ProcessedWebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=8))
    assert webhook_events_prune_task() == 1
    with scopes_disabled():
        assert list(ProcessedWebhookEvent.objects.values_list("event_id", flat=True)) == ["new"]
