"""What audiences does when channels report a provider's word about an address."""

from __future__ import annotations

from django.dispatch import receiver

from audiences import services
from audiences.models import ConsentSource
from channels.signals import keyword_received, recipient_suppressed
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
