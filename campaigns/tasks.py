"""Celery tasks of the delivery engine: thin, idempotent, tenant-scoped wrappers around
campaigns.engine. Delays longer than a few minutes never sit in the broker: they wait in
PostgreSQL (not_before, next_run_at) and the scheduler tick picks them up."""

from __future__ import annotations

import logging

from celery import shared_task

from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)

# Never more than half of the broker's visibility timeout (1 hour): see the module docstring.
MAX_COUNTDOWN_SECONDS = 300


@shared_task(base=TenantTask, name="campaigns.tasks.run_fan_out_task", required_flag="campaigns_enabled")
def run_fan_out_task(tenant, run_id: str) -> None:
    from campaigns.engine.fanout import run_fan_out
    from campaigns.journeys.engine import journey_run_open

    # Journey hook: a drip or triggered run has no audience snapshot; the journey engine opens
    # it (sending) and adds deliveries step by step.
    if journey_run_open(run_id=run_id):
        return
    run_fan_out(run_id=run_id)


@shared_task(base=TenantTask, name="campaigns.tasks.run_dispatch_task", required_flag="campaigns_enabled")
def run_dispatch_task(tenant, run_id: str, channel: str) -> str:
    from campaigns.engine.dispatch import run_dispatch

    result = run_dispatch(run_id=run_id, channel=channel)
    if result == "continue":
        run_dispatch_task.delay(tenant.pk, run_id, channel)
    elif result.startswith("delay:"):
        countdown = min(int(result.split(":", 1)[1]), MAX_COUNTDOWN_SECONDS)
        run_dispatch_task.apply_async((tenant.pk, run_id, channel), countdown=countdown)
    return result


@shared_task(name="campaigns.tasks.scheduler_tick_task")
def scheduler_tick_task() -> dict:
    """Beat, every 10 s: start due campaigns, reap stale claims, recover runs, wake dispatch."""
    from campaigns.engine import scheduler
    from campaigns.engine.dispatch import run_finish_if_done
    from campaigns.models import CampaignRun, RunStatus
    from tenants.scoping import scopes_disabled, tenant_scope

    started = scheduler.campaigns_start_due()
    reaped = scheduler.deliveries_reap()
    for tenant_id, run_id in scheduler.runs_recover():
        run_fan_out_task.delay(tenant_id, run_id)
    woken = scheduler.runs_needing_dispatch()
    for tenant_id, run_id, channel in woken:
        run_dispatch_task.delay(tenant_id, run_id, channel)
    with scopes_disabled():
        sending = list(CampaignRun.objects.filter(status=RunStatus.SENDING).values_list("pk", "tenant_id")[:200])
    for run_id, tenant_id in sending:
        with tenant_scope(tenant_id):
            run_finish_if_done(run_id=run_id)
    return {"started": started, "reaped": reaped, "woken": len(woken)}


@shared_task(base=TenantTask, name="campaigns.tasks.send_times_refresh_task")
def send_times_refresh_task(tenant) -> int:
    from campaigns.engine.optimal import send_times_refresh

    return send_times_refresh(tenant=tenant)


@shared_task(name="campaigns.tasks.send_times_refresh_all_task")
def send_times_refresh_all_task() -> int:
    """Beat, nightly: one refresh task per active tenant."""
    from tenants.models import Tenant

    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        send_times_refresh_task.delay(tenant_id)
    return len(tenant_ids)

@shared_task(base=TenantTask, name="campaigns.tasks.templates_sync_task")
def templates_sync_task(tenant) -> dict:
    from campaigns.services_templates import templates_sync_due

    return templates_sync_due(tenant_id=tenant.pk)


@shared_task(name="campaigns.tasks.templates_sync_all_task")
def templates_sync_all_task() -> int:
    """Beat: one sync task per tenant with WhatsApp templates waiting for the provider's review."""
    from campaigns.models import MessageTemplate, TemplateStatus
    from tenants.scoping import scopes_disabled

    with scopes_disabled():
        tenant_ids = list(MessageTemplate.objects.filter(status=TemplateStatus.SUBMITTED, tenant__is_active=True)
                          .order_by().values_list("tenant_id", flat=True).distinct())
    for tenant_id in tenant_ids:
        templates_sync_task.delay(tenant_id)
    return len(tenant_ids)


# AI auto-replies keep their task beside their code; importing it here registers it with workers.
from campaigns.ai_replies.tasks import auto_reply_handle_task  # noqa: E402,F401
