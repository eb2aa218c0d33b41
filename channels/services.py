"""Writes for channel configs and webhook events. Views, tasks and commands call these."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from channels import registry
from channels.base import ProviderError, StatusEvent
from channels.crypto import DecryptionError
from channels.models import ChannelConfig, ProcessedWebhookEvent
from channels.selectors import channel_adapter
from tenants.models import Tenant

logger = logging.getLogger(__name__)

WEBHOOK_EVENT_RETENTION = timedelta(days=7)  # SendGrid retries for up to 72 hours


class ChannelConfigError(Exception):
    """A config could not be saved; the message is safe to show (it never contains a secret)."""


def default_rate(provider: str) -> float:
    return float(registry.adapter_class(provider).capabilities.default_rate_per_second)


def _split_values(provider: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split submitted ConfigField values into (settings, secrets) by the provider's declaration."""
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for spec in registry.adapter_class(provider).fields:
        value = values.get(spec.name)
        if value in (None, ""):
            continue
        if spec.secret:
            secrets[spec.name] = str(value)
        else:
            settings[spec.name] = value
    return settings, secrets


@transaction.atomic
def channel_config_create(
    *,
    tenant: Tenant,
    channel: str,
    provider: str,
    name: str,
    values: Mapping[str, Any],
    rate_per_second: float | None = None,
    unit_cost: Decimal = Decimal("0"),
    enabled: bool = True,
    is_default: bool | None = None,
) -> ChannelConfig:
    if provider not in registry.providers_for_channel(channel):
        raise ChannelConfigError(f"{registry.PROVIDERS.get(provider, (provider,))[0]} cannot send {channel}.")
    adapter_cls = registry.adapter_class(provider)
    settings, secrets = _split_values(provider, values)
    # Platform-made secrets (VAPID keys, webhook secrets) fill in whatever the admin left blank.
    secrets = {**adapter_cls.generate_secrets(), **secrets}
    if is_default is None:
        is_default = not ChannelConfig.objects.filter(tenant=tenant, channel=channel, is_default=True).exists()
    elif is_default:
        ChannelConfig.objects.filter(tenant=tenant, channel=channel, is_default=True).update(is_default=False)
    config = ChannelConfig(
        tenant=tenant,
        name=name,
        channel=channel,
        provider=provider,
        settings=settings,
        rate_per_second=rate_per_second or default_rate(provider),
        unit_cost=unit_cost,
        enabled=enabled,
        is_default=is_default,
    )
    config.set_secrets(secrets)
    try:
        with transaction.atomic():
            config.save()
    except IntegrityError:
        raise ChannelConfigError(f"A channel config named “{name}” already exists.") from None
    logger.info("Channel config %s (%s/%s) created for tenant %s", config.pk, channel, provider, tenant.slug)
    return config


@transaction.atomic
def channel_config_update(
    *,
    config: ChannelConfig,
    name: str,
    values: Mapping[str, Any],
    rate_per_second: float,
    unit_cost: Decimal,
    enabled: bool,
    is_default: bool,
    clear_secrets: Sequence[str] = (),
) -> ChannelConfig:
    """Blank secret fields keep the stored value (secrets are write-only); clear_secrets removes some."""
    settings, new_secrets = _split_values(config.provider, values)
    secrets = {**config.get_secrets(), **new_secrets}
    for name_to_clear in clear_secrets:
        secrets.pop(name_to_clear, None)
    if is_default and not config.is_default:
        ChannelConfig.objects.filter(tenant_id=config.tenant_id, channel=config.channel, is_default=True).exclude(
            pk=config.pk
        ).update(is_default=False)
    config.name = name
    config.settings = settings
    config.set_secrets(secrets)
    config.rate_per_second = rate_per_second
    config.unit_cost = unit_cost
    config.enabled = enabled
    config.is_default = is_default
    try:
        with transaction.atomic():
            config.save()
    except IntegrityError:
        raise ChannelConfigError(f"A channel config named “{name}” already exists.") from None
    logger.info("Channel config %s updated", config.pk)
    return config


def channel_config_test(*, config: ChannelConfig) -> tuple[bool, str]:
    """Ask the provider whether the credentials work; remember and return (ok, message).

    On failure the message is the provider's own error text (ProviderError.message), which names
    what is wrong without echoing credentials back.
    """
    try:
        ok, message = True, channel_adapter(config).test_connection() or "Connection works."
    except ProviderError as exc:
        ok, message = False, exc.message
    except DecryptionError as exc:
        ok, message = False, str(exc)
    except NotImplementedError:
        ok, message = False, "This provider cannot test its connection."
    ChannelConfig.objects.filter(pk=config.pk).update(
        last_test_at=timezone.now(), last_test_ok=ok, last_test_message=message[:2000]
    )
    config.refresh_from_db(fields=["last_test_at", "last_test_ok", "last_test_message"])
    logger.info("Channel config %s tested: %s", config.pk, "ok" if ok else "failed")
    return ok, message


def channel_config_register_webhook(*, config: ChannelConfig) -> str:
    """Tell the provider where to post updates (Telegram's setWebhook): this config's webhook URL
    and its secret token. Returns the URL; raises ChannelConfigError with a message to show."""
    try:
        adapter = channel_adapter(config)
    except DecryptionError as exc:
        raise ChannelConfigError(str(exc)) from exc
    register = getattr(adapter, "set_webhook", None)
    if not callable(register):
        raise ChannelConfigError(f"{config.provider_label} has no webhook to register: give it the URL yourself.")
    try:
        url = register(config.webhook_url)
    except ProviderError as exc:
        logger.info("Channel config %s: webhook registration failed (%s)", config.pk, exc.code)
        raise ChannelConfigError(exc.message) from exc
    logger.info("Channel config %s: webhook registered", config.pk)
    return url


def channel_config_set_enabled(*, config: ChannelConfig, enabled: bool) -> ChannelConfig:
    config.enabled = enabled
    config.save(update_fields=["enabled", "updated_at"])
    return config


@transaction.atomic
def channel_config_make_default(*, config: ChannelConfig) -> ChannelConfig:
    ChannelConfig.objects.filter(tenant_id=config.tenant_id, channel=config.channel, is_default=True).exclude(
        pk=config.pk
    ).update(is_default=False)
    config.is_default = True
    config.save(update_fields=["is_default", "updated_at"])
    return config


def channel_config_delete(*, config: ChannelConfig) -> None:
    logger.info("Channel config %s deleted", config.pk)
    config.delete()


def channel_config_regenerate_token(*, config: ChannelConfig) -> ChannelConfig:
    """A new webhook URL (the old one stops working at once): for a leaked URL."""
    from channels.models import new_webhook_token

    config.webhook_token = new_webhook_token()
    config.save(update_fields=["webhook_token", "updated_at"])
    return config


# --- webhooks ----------------------------------------------------------------------------------


def event_dedupe_id(event: StatusEvent, *, raw_body: bytes, index: int) -> str:
    """The provider's event id, or (for providers without one) the body's hash and the position."""
    if event.event_id:
        value = event.event_id
    else:
        value = f"body:{hashlib.sha256(raw_body).hexdigest()}:{index}"
    return value if len(value) <= 200 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def webhook_events_record(*, config: ChannelConfig, events: Sequence[StatusEvent], raw_body: bytes) -> list[StatusEvent]:
    """Remember the events; return only those never seen before for this config.

    One INSERT ... ON CONFLICT DO NOTHING RETURNING: two concurrent deliveries of the same
    callback cannot both see an event as new (PostgreSQL and SQLite >= 3.35 both support it).
    """
    by_id: dict[str, StatusEvent] = {}
    for index, event in enumerate(events):
        by_id.setdefault(event_dedupe_id(event, raw_body=raw_body, index=index), event)
    if not by_id:
        return []
    table = ProcessedWebhookEvent._meta.db_table
    pk_field = ChannelConfig._meta.pk
    config_id = pk_field.get_db_prep_value(config.pk, connection)
    received_field = ProcessedWebhookEvent._meta.get_field("received_at")
    now = received_field.get_db_prep_value(timezone.now(), connection)
    rows = [(config.tenant_id, config_id, event_id, now) for event_id in by_id]
    placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params = [value for row in rows for value in row]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(table)} ({qn('tenant_id')}, {qn('config_id')}, {qn('event_id')}, {qn('received_at')}) "
        f"VALUES {placeholders} ON CONFLICT ({qn('config_id')}, {qn('event_id')}) DO NOTHING "
        f"RETURNING {qn('event_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {row[0] for row in cursor.fetchall()}
    return [event for event_id, event in by_id.items() if event_id in inserted]


def webhook_events_prune(*, older_than: timedelta = WEBHOOK_EVENT_RETENTION) -> int:
    from tenants.scoping import scopes_disabled

    with scopes_disabled():
        deleted, _ = ProcessedWebhookEvent.objects.filter(received_at__lt=timezone.now() - older_than).delete()
    return deleted
