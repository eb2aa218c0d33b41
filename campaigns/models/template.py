"""WhatsApp message templates, which Meta must approve before a business may start a conversation."""

from __future__ import annotations

import re
import uuid

from django.db import models
from django.db.models import Q

from tenants.models import TenantOwnedModel


class TemplateCategory(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    UTILITY = "utility", "Utility"
    AUTHENTICATION = "authentication", "Authentication"


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class MessageTemplate(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel_config = models.ForeignKey("channels.ChannelConfig", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    name = models.SlugField(max_length=100, allow_unicode=False,
                            help_text="Lower-case letters, digits and underscores, as WhatsApp requires.")
    language = models.CharField(max_length=10, default="en")
    category = models.CharField(max_length=16, choices=TemplateCategory.choices, default=TemplateCategory.MARKETING)
    body = models.TextField(help_text="Numbered variables: {{1}}, {{2}} ...")
    header_media = models.ForeignKey("campaigns.CampaignMedia", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    buttons = models.JSONField(default=list, blank=True)  # [{"type": "url"|"quick_reply", "text": ..., "url": ...}]
    footer = models.CharField(max_length=60, blank=True)
    # Example values for {{1}}, {{2}} ... in order: WhatsApp's reviewers read the body with them.
    samples = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT)
    rejection_reason = models.CharField(max_length=300, blank=True)
    provider_template_id = models.CharField(max_length=100, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "language"], name="messagetemplate_unique_name_lang"),
            models.CheckConstraint(condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                                   name="messagetemplate_rejected_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def variable_count(self) -> int:
        numbers = {int(n) for n in re.findall(r"\{\{\s*(\d+)\s*\}\}", self.body)}
        return max(numbers) if numbers else 0
