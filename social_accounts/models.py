"""Connected social accounts: the pages and profiles the social channel posts to."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from channels.base import ProviderConfig
from channels.crypto import EncryptedSecretsMixin
from tenants.models import TenantOwnedModel

# How long before expiry a token is flagged so someone reconnects it in time.
EXPIRY_WARNING = timedelta(days=7)


class Platform(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    INSTAGRAM = "instagram", "Instagram"
    FACEBOOK = "facebook", "Facebook"
    X = "x", "X"
    LINKEDIN = "linkedin", "LinkedIn"


# Which registry adapter tests a platform's credentials.
PLATFORM_PROVIDERS = {
    Platform.WHATSAPP: "meta_whatsapp",
    Platform.INSTAGRAM: "instagram",
    Platform.FACEBOOK: "facebook_page",
    Platform.X: "x",
    Platform.LINKEDIN: "linkedin",
}

# What the account id means on each platform, and the adapter setting that carries it.
ACCOUNT_ID_SETTING = {
    Platform.WHATSAPP: "phone_number_id",
    Platform.INSTAGRAM: "account_id",
    Platform.FACEBOOK: "account_id",
    Platform.X: "account_id",
    Platform.LINKEDIN: "account_id",
}


class Status(models.TextChoices):
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"
    EXPIRED = "expired", "Expired"
    ERROR = "error", "Error"


NEEDS_ATTENTION = (Status.EXPIRED, Status.DISCONNECTED)


class SocialAccount(EncryptedSecretsMixin, TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    handle = models.CharField(max_length=100, help_text="The name people see, e.g. @acmeretail or Acme Retail.")
    account_id = models.CharField(
        max_length=200, blank=True, default="",
        help_text="Page id, Instagram account id, X user id, LinkedIn author URN or WhatsApp phone number id.",
    )
    secrets_ciphertext = models.TextField(blank=True, default="", editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DISCONNECTED)
    status_message = models.CharField(max_length=500, blank=True, default="")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Set by the periodic check when the token expires within EXPIRY_WARNING.
    expiring_soon = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform", "handle"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "platform", "handle"], name="socialaccount_unique_handle"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.handle}"

    def __repr__(self) -> str:
        return f"<SocialAccount {self.pk} {self.platform} {self.handle!r} {self.status}>"

    @property
    def provider_key(self) -> str:
        return PLATFORM_PROVIDERS[Platform(self.platform)]

    @property
    def needs_attention(self) -> bool:
        return self.status in NEEDS_ATTENTION

    @property
    def token_expired(self) -> bool:
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()

    def provider_config(self) -> ProviderConfig:
        setting = ACCOUNT_ID_SETTING[Platform(self.platform)]
        return ProviderConfig(
            key=self.provider_key,
            settings={setting: self.account_id} if self.account_id else {},
            secrets=self.get_secrets(),
            tenant_id=self.tenant_id,
            config_id=str(self.pk),
            channel="whatsapp" if self.platform == Platform.WHATSAPP else "social",
        )
