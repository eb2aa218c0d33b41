"""Per-tenant provider connections, webhook dedupe records and the sandbox outbox.

ChannelConfig is what an admin sets up on the Channels page: which provider sends a channel's
messages, with which sender identity, credentials (encrypted at rest, write-only in the UI), rate
limit and unit cost. The delivery engine reaches providers only through
`channels.selectors.channel_adapter(config)`.
"""

from __future__ import annotations

import secrets as _secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from channels import registry
from channels.base import ProviderConfig
from channels.crypto import EncryptedSecretsMixin
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS, TenantOwnedModel

CHANNEL_CHOICES = [(key, CHANNEL_LABELS[key]) for key in CHANNEL_KEYS]


def new_webhook_token() -> str:
    # 24 random bytes -> 32 url-safe characters: unguessable, and it names no tenant or config.
    return _secrets.token_urlsafe(24)


class ChannelConfig(EncryptedSecretsMixin, TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    # A registry key; validated against channels.registry (no model choices, so adding a provider
    # is one module plus one registry line, with no migration).
    provider = models.CharField(max_length=32)
    # Non-secret provider settings (sender number, from address, ...), keyed by ConfigField.name.
    settings = models.JSONField(default=dict, blank=True)
    # One Fernet token holding a JSON object of the secret ConfigFields. Never shown, never logged.
    secrets_ciphertext = models.TextField(blank=True, default="", editable=False)
    rate_per_second = models.FloatField(
        validators=[MinValueValidator(0.01)],
        help_text="Messages per second across all workers. Defaults to the provider's published limit.",
    )
    unit_cost = models.DecimalField(max_digits=12, decimal_places=5, default=Decimal("0"),
                                    validators=[MinValueValidator(Decimal("0"))])
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, help_text="Campaigns use the default config of each channel.")
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="channelconfig_unique_name"),
            models.UniqueConstraint(fields=["tenant", "channel"], condition=Q(is_default=True),
                                    name="channelconfig_one_default_per_channel"),
            models.CheckConstraint(condition=Q(rate_per_second__gt=0), name="channelconfig_rate_positive"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="channelconfig_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_label})"

    def __repr__(self) -> str:
        return f"<ChannelConfig {self.pk} {self.channel}/{self.provider} tenant={self.tenant_id}>"

    @property
    def provider_label(self) -> str:
        entry = registry.PROVIDERS.get(self.provider)
        return entry[0] if entry else self.provider

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    @property
    def is_active(self) -> bool:
        """Usable for sending: enabled here and the channel is switched on for the tenant."""
        return self.enabled and self.tenant.channel_enabled(self.channel)

    @property
    def currency(self) -> str:
        return self.tenant.currency

    @property
    def burst(self) -> int:
        """Bucket size of the shared limiter: one second's worth of tokens, at least one."""
        return max(1, int(self.rate_per_second))

    def rate_limit_rule(self):
        """The shared bucket every worker sending through this config takes tokens from."""
        from channels.ratelimit import Rule, config_key

        return Rule(config_key(self.pk), float(self.rate_per_second), self.burst)

    def adapter_class(self):
        return registry.adapter_class(self.provider)

    @property
    def webhook_path(self) -> str:
        return reverse("channels_hook_urls:hook", args=[self.provider, self.webhook_token])

    @property
    def webhook_url(self) -> str:
        return f"{settings.SITE_URL}{self.webhook_path}"

    def provider_config(self) -> ProviderConfig:
        """What the adapter gets: plain values with the secrets decrypted."""
        return ProviderConfig(
            key=self.provider,
            settings=dict(self.settings or {}),
            secrets=self.get_secrets(),
            unit_cost=self.unit_cost,
            callback_url=self.webhook_url,
            tenant_id=self.tenant_id,
            config_id=str(self.pk),
            channel=self.channel,
        )


class ProcessedWebhookEvent(TenantOwnedModel):
    """One provider event already accepted, so a retried or replayed callback changes nothing.

    Providers deliver at least once (SendGrid sends an event up to about three times); the unique
    (config, event_id) pair turns the second delivery into a no-op insert.
    """

    config = models.ForeignKey(ChannelConfig, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["config", "event_id"], name="webhookevent_unique_per_config"),
        ]

    def __str__(self) -> str:
        return self.event_id


class OutboxMessage(TenantOwnedModel):
    """What the sandbox provider 'sent': the demo's end-to-end proof with no credentials."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    config = models.ForeignKey(ChannelConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    to = models.CharField(max_length=320)
    subject = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="", help_text="Sanitized on write.")
    media_urls = models.JSONField(default=list, blank=True)
    message_id = models.CharField(max_length=64, blank=True, default="", help_text="The delivery's id.")
    provider_message_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at", "-id"], name="outbox_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"
