"""What audiences does when channels report a provider's word about an address."""

from __future__ import annotations

from django.dispatch import receiver
from django.utils import timezone

from audiences import services
from audiences.models import ConsentSource
from channels.base import Stage
from channels.models import ChannelConfig
from channels.signals import keyword_received, recipient_suppressed, status_events_received
from tenants.scoping import tenant_scope


@receiver(keyword_received, dispatch_uid="audiences.keyword_received")
def apply_keyword(sender, *, tenant_id, channel, address, keyword, evidence, **kwargs):
    with tenant_scope(tenant_id):
        services.consent_apply_keyword(
            tenant_id=tenant_id, channel=channel, address=address, keyword=keyword, evidence=evidence
        )


@receiver(recipient_suppressed, dispatch_uid="audiences.recipient_suppressed")
def suppress_recipient(sender, *, tenant_id, channel, address, reason="", **kwargs):
    kind = services.suppression_kind_for(channel)
    if kind is None or not address:
        return
    with tenant_scope(tenant_id):
        services.suppression_add(tenant_id=tenant_id, kind=kind, value=address, reason=reason,
                                 source=ConsentSource.PROVIDER)


@receiver(status_events_received, dispatch_uid="audiences.whatsapp_inbound")
def record_whatsapp_inbound(sender, *, tenant_id, config_id, events, **kwargs):
    """Any message a contact sends us on WhatsApp (a reply, a keyword, a button tap) opens the
    24-hour session window: remember when, per contact (Twilio and Meta alike)."""
    inbound = [e for e in events if e.from_address and e.stage in (None, Stage.REPLIED)]
    if not inbound:
        return None
    with tenant_scope(tenant_id):
        if not ChannelConfig.objects.filter(tenant_id=tenant_id, pk=config_id, channel="whatsapp").exists():
            return None
        seen: dict = {}
        for event in inbound:
            at = event.occurred_at or timezone.now()
            if event.from_address not in seen or seen[event.from_address] < at:
                seen[event.from_address] = at
        services.contacts_whatsapp_inbound_record(tenant_id=tenant_id, seen=seen)
    return None  # the delivery engine's receiver speaks for unmatched events
