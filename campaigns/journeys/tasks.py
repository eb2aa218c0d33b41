"""Celery tasks of the journey engine: beat ticks that fan out one task per campaign, and thin
tenant-scoped wrappers around campaigns.journeys.engine / triggers."""

from __future__ import annotations

from celery import shared_task

from tenants.tasks import TenantTask


@shared_task(name="campaigns.journeys.tasks.journeys_tick_task")
def journeys_tick_task() -> dict:
    """Beat, every 10 s: exit journeys of cancelled campaigns, advance every campaign with due journeys."""
    from campaigns.journeys import engine

    exited = engine.journeys_exit_finished()
    due = engine.campaigns_with_due_journeys()
    for tenant_id, campaign_id in due:
        journeys_advance_task.delay(tenant_id, campaign_id)
    return {"exited": exited, "campaigns": len(due)}


@shared_task(name="campaigns.journeys.tasks.triggers_tick_task")
def triggers_tick_task() -> int:
    """Beat, every minute: poll segment-entry and date triggers, one task per campaign."""
    from campaigns.journeys.triggers import campaigns_to_check

    rows = campaigns_to_check()
    for tenant_id, campaign_id in rows:
        triggers_check_task.delay(tenant_id, campaign_id)
    return len(rows)


@shared_task(base=TenantTask, name="campaigns.journeys.tasks.journeys_advance_task", required_flag="campaigns_enabled")
def journeys_advance_task(tenant, campaign_id: str) -> int:
    from campaigns.journeys.engine import journeys_advance

    return journeys_advance(campaign_id=campaign_id).moved


@shared_task(base=TenantTask, name="campaigns.journeys.tasks.triggers_check_task", required_flag="campaigns_enabled")
def triggers_check_task(tenant, campaign_id: str) -> int:
    from campaigns.journeys.triggers import campaign_triggers_check
    from campaigns.models import Campaign

    campaign = Campaign.objects.select_related("tenant").filter(pk=campaign_id).first()
    return campaign_triggers_check(campaign=campaign) if campaign is not None else 0


@shared_task(base=TenantTask, name="campaigns.journeys.tasks.trigger_contact_changed_task",
             required_flag="campaigns_enabled")
def trigger_contact_changed_task(tenant, contact_id: str) -> int:
    from campaigns.journeys.triggers import contact_changed

    return contact_changed(contact_id=contact_id, tenant_id=tenant.pk)
