"""AI auto-replies for trained WhatsApp campaigns: the marketer's response triggers, the fallback
instruction, and a log of every inbound reply the campaign answered (or handed to a person)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from campaigns.models.campaign import Campaign
from campaigns.models.delivery import Delivery
from tenants.models import TenantOwnedModel


class ResponseTriggerKind(models.TextChoices):
    KEYWORD = "keyword", "Keywords"
    INTENT = "intent", "Intent"


class ResponseTrigger(TenantOwnedModel):
    """A canned answer: keywords matched in the reply's words, or an intent the model recognises."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="response_triggers")
    kind = models.CharField(max_length=10, choices=ResponseTriggerKind.choices, default=ResponseTriggerKind.KEYWORD)
    keywords = models.JSONField(default=list, blank=True)  # lower-case words or phrases
    intent = models.TextField(blank=True, help_text="What the contact wants, in plain words.")
    response = models.TextField(help_text="The answer; {{ first_name }} and the other contact variables work here.")
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [
            # A keyword trigger without keywords (or an intent without its description) never fires.
            models.CheckConstraint(
                condition=(Q(kind="keyword") & ~Q(keywords=[])) | (Q(kind="intent") & ~Q(intent="")),
                name="responsetrigger_has_matcher",
            ),
        ]

    def __str__(self) -> str:
        return ", ".join(self.keywords) if self.kind == ResponseTriggerKind.KEYWORD else self.intent


class AutoReplySettings(TenantOwnedModel):
    """The marketer's fallback instruction for AI answers (one per campaign)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="autoreply_settings")
    instruction = models.TextField(blank=True)
    # Blank: settings.OPENAI_MODEL.
    model = models.CharField(max_length=60, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class AutoReplySource(models.TextChoices):
    TRIGGER = "trigger", "Trigger"
    AI = "ai", "AI"
    HANDOVER = "handover", "Handed over"


class AutoReplyStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    HANDOVER = "handover", "Needs a person"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not answered"


class AutoReply(TenantOwnedModel):
    """One inbound reply to a trained campaign and what we did about it.

    Written as pending inside the webhook's transaction (so it is never lost), claimed by the
    task with a conditional update (so it is never answered twice), then given its outcome.
    """

    FINAL = frozenset({AutoReplyStatus.SENT, AutoReplyStatus.HANDOVER, AutoReplyStatus.FAILED,
                       AutoReplyStatus.SKIPPED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="auto_replies")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="auto_replies")
    inbound_text = models.TextField()
    # The provider's id of the inbound message: a replayed webhook never creates a second row.
    inbound_event_id = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=AutoReplyStatus.choices, default=AutoReplyStatus.PENDING)
    source = models.CharField(max_length=10, choices=AutoReplySource.choices, blank=True)
    trigger = models.ForeignKey(ResponseTrigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reply_text = models.TextField(blank=True)
    # Why a person has to answer, or why nothing was sent.
    note = models.CharField(max_length=300, blank=True)
    provider_message_id = models.CharField(max_length=120, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Handovers: when the campaign's creator was emailed, and when someone marked it answered.
    notified_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "inbound_event_id"], condition=~Q(inbound_event_id=""),
                                    name="autoreply_one_per_inbound"),
        ]
        indexes = [
            models.Index(fields=["campaign", "-created_at"], name="autoreply_campaign_recent"),
            # The "Needs a human" queue and the grid's badge count only open handovers: a small index.
            models.Index(fields=["campaign", "created_at"], name="autoreply_open_handovers",
                         condition=Q(status="handover", handled_at__isnull=True)),
            # The same, workspace-wide: the sidebar's "Needs a human" count on every page.
            models.Index(fields=["tenant", "created_at"], name="autoreply_open_tenant",
                         condition=Q(status="handover", handled_at__isnull=True)),
        ]

    @property
    def is_open_handover(self) -> bool:
        return self.status == AutoReplyStatus.HANDOVER and self.handled_at is None

    def __str__(self) -> str:
        return f"{self.source or self.status}: {self.inbound_text[:40]}"
