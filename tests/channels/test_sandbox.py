"""The sandbox provider: real sends into the tenant's own outbox, no credentials needed."""

from __future__ import annotations

import pytest

from channels.base import Media, OutboundMessage
from channels.models import OutboxMessage
from channels.selectors import channel_adapter
from tenants.scoping import tenant_scope
from tests.channels.conftest import create_config

pytestmark = pytest.mark.django_db


def test_a_sandbox_send_lands_in_the_tenants_outbox_with_a_provider_id(tenant_a, tenant_b):
    config = create_config(tenant_a, provider="sandbox", channel="sms")
    with tenant_scope(tenant_a):
        results = channel_adapter(config).send([
            OutboundMessage(id="d-1", to="+919800000001", text="Sale starts now"),
            OutboundMessage(id="d-2", to="+919800000002", text="Sale starts now", media=(Media("https://x.test/a.png", "image/png"),)),
        ])
        assert all(r.ok and r.provider_message_id.startswith("sbx_") for r in results)
        rows = list(OutboxMessage.objects.order_by("message_id"))
    assert [(r.channel, r.to, r.message_id, r.config_id) for r in rows] == [
        ("sms", "+919800000001", "d-1", config.pk), ("sms", "+919800000002", "d-2", config.pk)]
    assert rows[1].media_urls == ["https://x.test/a.png"]
    assert {r.provider_message_id for r in rows} == {r.provider_message_id for r in results}
    with tenant_scope(tenant_b):
        assert OutboxMessage.objects.count() == 0


def test_sandbox_email_html_is_sanitized_before_it_is_stored(tenant_a):
    config = create_config(tenant_a, provider="sandbox", channel="email")
    html = '<p onclick="steal()">Hi <b>Asha</b></p><script>alert(1)</script><a href="javascript:alert(1)">x</a>'
    with tenant_scope(tenant_a):
        channel_adapter(config).send([OutboundMessage(id="d-1", to="asha@example.com", subject="Hi", html=html)])
        stored = OutboxMessage.objects.get().html
    assert "<b>Asha</b>" in stored
    assert "script" not in stored and "onclick" not in stored and "javascript:" not in stored


def test_the_sandbox_connection_test_always_passes(tenant_a):
    config = create_config(tenant_a, provider="sandbox", channel="push")
    assert "Outbox" in channel_adapter(config).test_connection()
