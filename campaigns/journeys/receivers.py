"""A saved contact may have just entered a segment that starts a campaign: check it soon, off the
request. Only tenants with an active segment-triggered campaign pay for the check (one EXISTS)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from audiences.models import Contact


@receiver(post_save, sender=Contact, dispatch_uid="journeys.contact_saved")
def contact_saved(sender, instance: Contact, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    from campaigns.journeys.tasks import trigger_contact_changed_task
    from campaigns.journeys.triggers import segment_triggered_campaigns
    from tenants.scoping import scopes_disabled

    with scopes_disabled():  # admin and import saves may run outside a tenant scope
        if not segment_triggered_campaigns(instance.tenant_id).exists():
            return
    tenant_id, contact_id = instance.tenant_id, str(instance.pk)
    transaction.on_commit(lambda: trigger_contact_changed_task.delay(tenant_id, contact_id))
