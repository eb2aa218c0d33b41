"""A campaign: what is sent (content per channel), to whom (audience), when (schedule, recurrence,
calling hours), how fast (throttle) and for how much (budget). Status changes go through
campaigns.lifecycle only."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS, TenantOwnedModel, validate_timezone

CHANNEL_CHOICES = [(key, CHANNEL_LABELS[key]) for key in CHANNEL_KEYS]
WHATSAPP_MAX_BROADCAST_LIST = 256


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class CampaignType(models.TextChoices):
    BROADCAST = "broadcast", "Broadcast"
    DRIP = "drip", "Drip"
    TRIGGERED = "triggered", "Triggered"


class CampaignPurpose(models.TextChoices):
    PROMOTIONAL = "promotional", "Promotional"
    INFORMATIONAL = "informational", "Informational"
    EVENT = "event", "Event announcement"
    FOLLOW_UP = "follow_up", "Follow-up"
    ENGAGEMENT = "engagement", "Engagement"


class SendMode(models.TextChoices):
    NOW = "now", "Send now"
    SCHEDULED = "scheduled", "Schedule"
    OPTIMAL = "optimal", "Optimal time"


class Recurrence(models.TextChoices):
    NONE = "none", "Does not repeat"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    CUSTOM = "custom", "Custom rule"


class CallingHoursMode(models.TextChoices):
    RECIPIENT = "recipient", "Recipient's local time"
    FIXED = "fixed", "A fixed time zone"


class AiTrainingStatus(models.TextChoices):
    NOT_TRAINED = "not_trained", "Not trained"
    TRAINED = "trained", "Trained"


class Campaign(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=CampaignType.choices, default=CampaignType.BROADCAST)
    purpose = models.CharField(max_length=16, choices=CampaignPurpose.choices, default=CampaignPurpose.PROMOTIONAL)
    channels = models.JSONField(default=list, blank=True)  # ordered subset of CHANNEL_KEYS
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    starred = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    # Audience: everyone, or the union of segments, lists and tags (a CSV uploaded in the wizard
    # becomes a list).
    audience_everyone = models.BooleanField(default=False)
    segments = models.ManyToManyField("audiences.Segment", blank=True, related_name="campaigns")
    lists = models.ManyToManyField("audiences.ContactList", blank=True, related_name="campaigns")
    tags = models.ManyToManyField("audiences.Tag", blank=True, related_name="campaigns")

    budget_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                                       validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, blank=True)

    send_mode = models.CharField(max_length=10, choices=SendMode.choices, default=SendMode.NOW)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # "Optimal time": each recipient at their best engagement hour within this many hours of launch.
    optimal_window_hours = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(168)])
    schedule_timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    recurrence = models.CharField(max_length=8, choices=Recurrence.choices, default=Recurrence.NONE)
    recurrence_rule = models.CharField(max_length=200, blank=True, help_text="An RFC 5545 RRULE, for custom recurrence.")
    recurrence_end = models.DateField(null=True, blank=True)
    # When beat should start the next run; set by scheduling and by each recurrence.
    next_run_at = models.DateTimeField(null=True, blank=True)

    calling_hours_start = models.TimeField(null=True, blank=True)
    calling_hours_end = models.TimeField(null=True, blank=True)
    calling_hours_mode = models.CharField(max_length=10, choices=CallingHoursMode.choices,
                                          default=CallingHoursMode.RECIPIENT)
    calling_hours_timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])

    throttle_per_minute = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    batch_delay_seconds = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(3600)])
    whatsapp_list_size = models.PositiveSmallIntegerField(
        default=WHATSAPP_MAX_BROADCAST_LIST,
        validators=[MinValueValidator(1), MaxValueValidator(WHATSAPP_MAX_BROADCAST_LIST)],
    )
    track_delivery = models.BooleanField(default=True)
    track_reads = models.BooleanField(default=True)
    track_links = models.BooleanField(default=True)
    ai_training_status = models.CharField(max_length=12, choices=AiTrainingStatus.choices,
                                          default=AiTrainingStatus.NOT_TRAINED)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Sent campaigns are archived instead of deleted: their deliveries and figures stay.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every lifecycle transition (optimistic concurrency for the wizard).
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-starred", "-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="campaign_status"),
            models.Index(fields=["next_run_at"], condition=Q(status="scheduled"), name="campaign_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(whatsapp_list_size__gte=1) & Q(whatsapp_list_size__lte=256),
                                   name="campaign_whatsapp_list_size_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def channel_labels(self) -> list[str]:
        return [CHANNEL_LABELS.get(c, c) for c in self.channels]

    @property
    def timezone_name(self) -> str:
        return self.schedule_timezone or self.tenant.timezone

    @property
    def is_recurring(self) -> bool:
        return self.recurrence != Recurrence.NONE


class CampaignContent(TenantOwnedModel):
    """One channel's content (see campaigns.content for its typed shape) and the config it sends through."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contents")
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    # Null: the tenant's default config for the channel at send time.
    channel_config = models.ForeignKey("channels.ChannelConfig", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "channel"], name="campaigncontent_unique_channel")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.channel}"


class ChannelBudget(TenantOwnedModel):
    """A channel's budget allocation and what dispatch has reserved of it (a conditional UPDATE)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="budgets")
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    allocated = models.DecimalField(max_digits=14, decimal_places=4, validators=[MinValueValidator(Decimal("0"))])
    spent = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "channel"], name="channelbudget_unique_channel"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="channelbudget_allocated_not_negative"),
        ]

    @property
    def remaining(self) -> Decimal:
        return max(self.allocated - self.spent, Decimal("0"))


class CampaignMedia(TenantOwnedModel):
    """An attachment, validated by its real content type and size (campaigns.media)."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"
        AUDIO = "audio", "Audio"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to="media/%Y/%m/")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name
