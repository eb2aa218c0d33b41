"""Reads of channel configs and the sandbox outbox. The delivery engine's entry points are
`channel_config_for(tenant=..., channel=...)` and `channel_adapter(config)`."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels import registry
from channels.base import ChannelAdapter
from channels.models import ChannelConfig, OutboxMessage
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS, Tenant
from tenants.scoping import scopes_disabled


def channel_adapter(config: ChannelConfig) -> ChannelAdapter:
    """The provider adapter for a config, with its secrets decrypted."""
    return registry.adapter_class(config.provider)(config.provider_config())


def channel_config_for(*, tenant: Tenant, channel: str) -> ChannelConfig | None:
    """The config campaigns send a channel through: the default one, else the only enabled one.

    None when the channel is switched off for the tenant or nothing usable is configured.
    """
    if not tenant.channel_enabled(channel):
        return None
    enabled = ChannelConfig.objects.filter(tenant=tenant, channel=channel, enabled=True)
    default = enabled.filter(is_default=True).first()
    if default is not None:
        return default
    candidates = list(enabled[:2])
    return candidates[0] if len(candidates) == 1 else None


def channel_config_by_token(*, provider: str, token: str) -> ChannelConfig | None:
    """Public webhook lookup across tenants (no scope yet: the token says which tenant)."""
    if not token or len(token) > 64:
        return None
    with scopes_disabled():
        return ChannelConfig.objects.select_related("tenant").filter(webhook_token=token, provider=provider).first()


def provider_available(key: str) -> bool:
    """False for a registry entry whose module is not part of this build."""
    try:
        registry.adapter_class(key)
    except (LookupError, ImportError, AttributeError):
        return False
    return True


@dataclass
class ChannelGroup:
    channel: str
    label: str
    enabled_for_tenant: bool
    configs: list[ChannelConfig] = field(default_factory=list)
    providers: list[tuple[str, str]] = field(default_factory=list)


def channel_groups(*, tenant: Tenant) -> list[ChannelGroup]:
    """Every channel with its configs, in the sidebar's channel order."""
    groups = {
        key: ChannelGroup(
            channel=key,
            label=CHANNEL_LABELS[key],
            enabled_for_tenant=tenant.channel_enabled(key),
            providers=[(p, registry.PROVIDERS[p][0]) for p in registry.providers_for_channel(key)
                       if provider_available(p)],
        )
        for key in CHANNEL_KEYS
    }
    for config in ChannelConfig.objects.filter(tenant=tenant).select_related("tenant").order_by("-is_default", "name"):
        if config.channel in groups:
            groups[config.channel].configs.append(config)
    return list(groups.values())


OUTBOX_PAGE = 50


def outbox_page(*, channel: str = "", before: OutboxMessage | None = None, limit: int = OUTBOX_PAGE
                ) -> tuple[list[OutboxMessage], OutboxMessage | None]:
    """Newest first, keyset-paginated: (messages, the last one when there may be more)."""
    rows = OutboxMessage.objects.select_related("config").order_by("-created_at", "-id")
    if channel:
        rows = rows.filter(channel=channel)
    if before is not None:
        rows = rows.filter(created_at__lte=before.created_at).exclude(created_at=before.created_at, id__gte=before.id)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1] if more and page else None)
