"""Fixtures for the channel core tests: configs per tenant and a test-only signing adapter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from channels import registry
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope


def create_config(tenant, *, provider="sandbox", channel="email", name=None, settings=None, secrets=None,
                  rate=10.0, **extra) -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name=name or f"{provider} {channel}", channel=channel,
                               provider=provider, settings=settings or {}, rate_per_second=rate,
                               unit_cost=Decimal("0.01"), **extra)
        config.set_secrets(secrets or {})
        config.save()
        return config


@pytest.fixture
def register_provider(monkeypatch):
    """Register a test-only adapter class under a key for the duration of a test."""

    def register(key: str, dotted: str, channel: str = "sms") -> None:
        monkeypatch.setitem(registry.PROVIDERS, key, (f"Test {key}", channel, dotted))
        registry.adapter_class.cache_clear()

    yield register
    registry.adapter_class.cache_clear()
