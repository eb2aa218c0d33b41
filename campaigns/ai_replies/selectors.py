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


def handovers_open(*, campaign: Campaign, limit: int = 50) -> list[AutoReply]:
    """The "Needs a human" queue: handovers nobody has marked handled yet, oldest first (the first
    to run out of WhatsApp's 24-hour window)."""
    return list(AutoReply.objects.filter(campaign=campaign, status=AutoReplyStatus.HANDOVER, handled_at__isnull=True)
                .select_related("delivery__contact").order_by("created_at")[:limit])


def handovers_open_count(*, campaign: Campaign) -> int:
    return AutoReply.objects.filter(campaign=campaign, status=AutoReplyStatus.HANDOVER, handled_at__isnull=True).count()


def open_handovers_subquery():
    """Open handovers per campaign, for annotating the grid (one correlated count on a partial index)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    return Coalesce(Subquery(
        AutoReply.objects.filter(campaign=OuterRef("pk"), status=AutoReplyStatus.HANDOVER, handled_at__isnull=True)
        .order_by().values("campaign").annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0))


def handovers_context(campaign: Campaign, *, can_edit: bool) -> dict:
    """What campaigns/autoreply/handovers.html needs (the campaign page's "Needs a human" queue)."""
    return {"campaign": campaign, "handovers": handovers_open(campaign=campaign),
            "handover_count": handovers_open_count(campaign=campaign), "can_edit": can_edit}


# --- the workspace-wide "Needs a human" queue --------------------------------------------------------

def handovers_open_tenant(*, tenant_id: int, limit: int = 100) -> list[AutoReply]:
    """Open handovers across every campaign of the tenant, oldest first (the first to run out of
    WhatsApp's 24-hour window)."""
    return list(AutoReply.objects.filter(tenant_id=tenant_id, status=AutoReplyStatus.HANDOVER, handled_at__isnull=True)
                .select_related("campaign", "delivery__contact").order_by("created_at", "pk")[:limit])


def handovers_open_tenant_count(*, tenant_id: int) -> int:
    """The sidebar's count, on every page: an index-only count on autoreply_open_tenant (partial index)."""
    return AutoReply.objects.filter(tenant_id=tenant_id, status=AutoReplyStatus.HANDOVER,
                                    handled_at__isnull=True).count()


def handovers_tenant_context(tenant, *, can_edit: bool) -> dict:
    """What campaigns/autoreply/handovers_all.html needs."""
    return {"handovers": handovers_open_tenant(tenant_id=tenant.pk),
            "handover_count": handovers_open_tenant_count(tenant_id=tenant.pk), "can_edit": can_edit}
