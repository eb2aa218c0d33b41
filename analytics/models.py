"""Tracking records: the links a campaign's messages carry, every click on them, and conversions.

Unique figures (a delivery clicked, a delivery read) live on the delivery and in the counters;
these tables hold what the counters cannot: every click (total clicks) and each conversion with
its revenue.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from campaigns.models import CHANNEL_CHOICES
from tenants.models import TenantOwnedModel


class TrackedLink(TenantOwnedModel):
    """One distinct destination URL of a campaign; click tokens name it by its id (short for SMS)."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="tracked_links")
    url = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "url"], name="trackedlink_unique_url")]

    def __str__(self) -> str:
        return self.url


class ClickEvent(TenantOwnedModel):
    """Every click (total clicks); the first one per delivery also sets Delivery.clicked_at (unique)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey("campaigns.Delivery", on_delete=models.CASCADE, related_name="click_events")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="click_events")
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["campaign", "channel"], name="clickevent_campaign")]


class ConversionSource(models.TextChoices):
    API = "api", "Server-to-server API"
    REDIRECT = "redirect", "Tracked link"


class Conversion(TenantOwnedModel):
    """A goal reached (purchase, signup...), attributed to the delivery that led to it when one did."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey("campaigns.Delivery", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="conversions")
    contact = models.ForeignKey("audiences.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="conversions")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="conversions")
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES, blank=True)
    event = models.CharField(max_length=80)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    source = models.CharField(max_length=10, choices=ConversionSource.choices, default=ConversionSource.API)
    occurred_at = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["campaign", "channel"], name="conversion_campaign")]
        constraints = [
            # Reloading a landing page must not count the goal twice.
            models.UniqueConstraint(fields=["delivery", "event"], condition=Q(source="redirect"),
                                    name="conversion_redirect_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.revenue})"
