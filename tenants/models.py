from __future__ import annotations

import hashlib
import secrets
import uuid
import zoneinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django_scopes import ScopedManager

CHANNEL_KEYS = ("email", "push", "sms", "whatsapp", "telegram", "voice", "social")
CHANNEL_LABELS = {
    "email": "Email", "push": "Push", "sms": "SMS", "whatsapp": "WhatsApp",
    "telegram": "Telegram", "voice": "Voice", "social": "Social",
}


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone such as Asia/Kolkata.")


def validate_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"“{value}” is not a phone region code such as IN or US.")


class Tenant(models.Model):
    """A customer organisation. Everything it owns is scoped to it (see TenantOwnedModel)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_phone_region = models.CharField(
        max_length=2, default="US", validators=[validate_region],
        help_text="Region used to parse phone numbers written without a country code.",
    )
    currency = models.CharField(
        max_length=3, default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code such as INR.")],
    )
    is_active = models.BooleanField(default=True)
    default_send_hour = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(23)],
        help_text="Local hour for 'optimal time' sends to contacts with no engagement history at all.",
    )

    # Feature flags, set by system administrators in Django admin.
    campaigns_enabled = models.BooleanField(default=True)
    email_enabled = models.BooleanField("Email channel", default=True)
    push_enabled = models.BooleanField("Web push channel", default=True)
    sms_enabled = models.BooleanField("SMS channel", default=True)
    whatsapp_enabled = models.BooleanField("WhatsApp channel", default=True)
    telegram_enabled = models.BooleanField("Telegram channel", default=True)
    voice_enabled = models.BooleanField("Voice channel", default=True)
    social_enabled = models.BooleanField("Social channel", default=True)
    ai_enabled = models.BooleanField("AI content generation", default=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def channel_enabled(self, channel: str) -> bool:
        if channel not in CHANNEL_KEYS:
            raise ValueError(f"Unknown channel {channel!r}")
        return getattr(self, f"{channel}_enabled")

    @property
    def enabled_channels(self) -> list[str]:
        return [c for c in CHANNEL_KEYS if self.channel_enabled(c)]

    @property
    def enabled_channel_labels(self) -> list[str]:
        return [CHANNEL_LABELS[c] for c in self.enabled_channels]


class TenantOwnedModel(models.Model):
    """Base for every model a tenant owns.

    The default manager is scoped (django-scopes): a query with no active tenant scope raises
    ScopeError instead of silently reading every tenant's rows. Entry points (TenantMiddleware,
    TenantTask, management commands) enter the scope once.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    ANALYST = "analyst", "Analyst (read-only)"


# Higher rank can do everything a lower rank can.
ROLE_RANK = {Role.ANALYST: 0, Role.MARKETER: 1, Role.ADMIN: 2}


class Membership(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant_id} ({self.role})"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def can_edit(self) -> bool:
        return self.has_role(Role.MARKETER)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


API_KEY_PREFIX = "cpk"


def _hash_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(TenantOwnedModel):
    """A server-to-server credential. Only its hash is stored; the key is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """Return (raw key, display prefix, hash)."""
        prefix = secrets.token_hex(4)
        raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        return raw, f"{API_KEY_PREFIX}_{prefix}", _hash_key(raw)

    @staticmethod
    def hash(raw_key: str) -> str:
        return _hash_key(raw_key)
