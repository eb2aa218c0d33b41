"""Runs and deliveries: one CampaignRun per send (per occurrence of a recurring campaign), one
Delivery per recipient, channel and workflow step, and the counters the read side uses."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from campaigns.models.campaign import CHANNEL_CHOICES, Campaign
from tenants.models import TenantOwnedModel


class RunStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    FANNING_OUT = "fanning_out", "Preparing recipients"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class CampaignRun(TenantOwnedModel):
    ACTIVE = frozenset({RunStatus.PENDING, RunStatus.FANNING_OUT, RunStatus.SENDING})
    FINAL = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    # The occurrence this run sends (a recurring campaign has one run per occurrence).
    occurrence_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    is_test = models.BooleanField(default=False)
    target_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurrence_at"]
        constraints = [
            # Exactly one run per occurrence, whatever number of beats race to start it.
            models.UniqueConstraint(fields=["campaign", "occurrence_at"], condition=Q(is_test=False),
                                    name="campaignrun_one_per_occurrence"),
        ]
        indexes = [models.Index(fields=["status"], condition=Q(status="sending"), name="campaignrun_sending")]

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.occurrence_at:%Y-%m-%d %H:%M}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    CLICKED = "clicked", "Clicked"
    REPLIED = "replied", "Replied"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


# Forward order of the statuses a provider can report; the engine never moves a delivery back.
STATUS_RANK = {
    DeliveryStatus.PENDING: 0, DeliveryStatus.SENDING: 5, DeliveryStatus.SENT: 10, DeliveryStatus.DELIVERED: 20,
    DeliveryStatus.READ: 30, DeliveryStatus.CLICKED: 40, DeliveryStatus.REPLIED: 50,
}
FINAL_STATUSES = frozenset({DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED})
ACCEPTED_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ,
                               DeliveryStatus.CLICKED, DeliveryStatus.REPLIED})


class SkipReason(models.TextChoices):
    NO_ADDRESS = "no_address", "No address for this channel"
    OPTED_OUT = "opted_out", "Opted out"
    NO_OPT_IN = "no_opt_in", "No opt-in"
    SUPPRESSED = "suppressed", "On the suppression list"
    DUPLICATE = "duplicate_address", "Address already targeted in this run"
    BUDGET = "budget", "Channel budget spent"
    NO_CONFIG = "no_config", "Channel not configured"
    WINDOW = "whatsapp_window", "Outside WhatsApp's 24-hour window"


class Delivery(TenantOwnedModel):
    """One message to one recipient on one channel (and workflow step). Written in bulk by fan-out."""

    id = models.BigAutoField(primary_key=True)
    # What providers see (custom args, metadata) and URLs carry; never the sequential id.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No single-column indexes on run, campaign and contact: each leads a composite index below
    # (delivery_unique_recipient, delivery_campaign_status, delivery_contact_recent), which serves
    # the same lookups and cascades, and every insert and status change paid for the extra three.
    # None on tenant and channel_config either: every tenant query here also filters on a column an
    # index leads with (run, campaign, contact, sent_at, failed_at), and only deleting a tenant or a
    # channel configuration reads by them alone. Each index costs every delivery three entries
    # (fan-out, claim, outcome: an UPDATE that changes an indexed column rewrites them all).
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", editable=False,
                               db_index=False)
    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    contact = models.ForeignKey("audiences.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="deliveries", db_index=False)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    step = models.PositiveIntegerField(default=0)
    address = models.CharField(max_length=1000, blank=True)  # snapshot at fan-out: email, E.164, chat id, endpoint
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    is_test = models.BooleanField(default=False)
    channel_config = models.ForeignKey("channels.ChannelConfig", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", db_index=False)
    provider_message_id = models.CharField(max_length=120, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    disposition = models.CharField(max_length=20, blank=True)  # voice: answered, machine, busy, no_answer, failed
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=5, default=Decimal("0"))
    reply_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "contact", "channel", "step"], name="delivery_unique_recipient"),
            # Social posts and test sends have no contact: one per address instead.
            models.UniqueConstraint(fields=["run", "channel", "step", "address"], condition=Q(contact__isnull=True),
                                    name="delivery_unique_address_without_contact"),
        ]
        indexes = [
            # Dispatch claims the oldest due pending rows of one run and channel.
            models.Index(fields=["run", "channel", "id"], condition=Q(status="pending"), name="delivery_pending"),
            # The reaper finds stale claims.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="delivery_sending"),
            # Reports group a campaign's deliveries by channel and status.
            models.Index(fields=["campaign", "channel", "status"], name="delivery_campaign_status"),
            # Status callbacks find deliveries by the provider's id.
            models.Index(fields=["provider_message_id"], condition=~Q(provider_message_id=""),
                         name="delivery_provider_id"),
            models.Index(fields=["contact", "-sent_at"], name="delivery_contact_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address or self.contact_id} ({self.status})"


class RunChannelStats(TenantOwnedModel):
    """Counters per run and channel, changed in the same transaction as the deliveries they count.

    `reconcile_counters` recomputes them from the deliveries and reports drift.
    """

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="stats")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="run_stats")
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    targeted = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    clicked = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=5, default=Decimal("0"))

    COUNTERS = ("targeted", "skipped", "sent", "delivered", "read", "clicked", "replied", "failed", "cancelled")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "channel"], name="runchannelstats_unique")]

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.cancelled


class DailyChannelStats(TenantOwnedModel):
    """Per tenant, day (tenant-local) and channel: what the dashboard charts read."""

    day = models.DateField()
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    clicked = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=5, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "channel"], name="dailychannelstats_unique")]
