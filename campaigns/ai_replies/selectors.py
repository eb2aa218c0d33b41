"""Reads for AI auto-replies."""

from __future__ import annotations

from audiences.models import Contact
from campaigns.models import AutoReply, AutoReplySettings, AutoReplyStatus, Campaign, Delivery

RECENT = 20
SHOWN = (AutoReplyStatus.SENT, AutoReplyStatus.HANDOVER, AutoReplyStatus.FAILED)


def auto_replies_recent(*, campaign: Campaign, limit: int = RECENT) -> list[AutoReply]:
    """The latest auto-replies and handovers (skipped ones are not worth a marketer's attention)."""
    return list(AutoReply.objects.filter(campaign=campaign, status__in=SHOWN)
                .select_related("delivery__contact", "trigger").order_by("-created_at")[:limit])


def autoreply_settings_for(*, campaign: Campaign) -> AutoReplySettings:
    """The saved settings, or unsaved defaults (read-only pages never write)."""
    return (AutoReplySettings.objects.filter(campaign=campaign).first()
            or AutoReplySettings(campaign=campaign, tenant=campaign.tenant))


def sample_contact(*, campaign: Campaign) -> Contact | None:
    """A recipient of the campaign, so the test box fills {{ first_name }} like a real answer would."""
    row = (Delivery.objects.filter(campaign=campaign, channel="whatsapp", contact__isnull=False)
           .select_related("contact")[:1])
    return row[0].contact if row else None
