"""Reads over WhatsApp message templates."""

from __future__ import annotations

from django.db.models import QuerySet

from campaigns.models import MessageTemplate, TemplateStatus


def approved_templates(tenant) -> QuerySet[MessageTemplate]:
    """The templates a campaign may use: only those the provider (or, in the Sandbox, an admin) approved."""
    return MessageTemplate.objects.filter(tenant=tenant, status=TemplateStatus.APPROVED).order_by("name", "language")


def templates_for_page(tenant) -> QuerySet[MessageTemplate]:
    return (MessageTemplate.objects.filter(tenant=tenant).select_related("header_media", "channel_config", "tenant")
            .order_by("name", "language"))
