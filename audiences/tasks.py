"""Background work of audiences: the CSV import run, Telegram member counts."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from audiences.importer import import_run
from audiences.models import ImportJob
from tenants.scoping import scopes_disabled
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, name="audiences.tasks.import_job_run_task")
def import_job_run_task(tenant, job_id: str) -> None:
    """Import one queued CSV in chunks; a finished (or missing) job is left alone."""
    job = ImportJob.objects.filter(tenant=tenant, pk=job_id).first()
    if job is None or job.status in ImportJob.FINAL:
        return
    import_run(job=job)


@shared_task(base=TenantTask, name="audiences.tasks.contacts_delete_job_run_task")
def contacts_delete_job_run_task(tenant, job_id: str) -> None:
    """Run one queued bulk delete; a finished (or missing) job is left alone."""
    from audiences.models import ContactDeleteJob
    from audiences.services import contacts_delete_job_run

    job = ContactDeleteJob.objects.filter(tenant=tenant, pk=job_id).first()
    if job is None or job.status in ContactDeleteJob.FINAL:
        return
    contacts_delete_job_run(job=job)


@shared_task(base=TenantTask, name="audiences.tasks.telegram_chats_refresh_task")
def telegram_chats_refresh_task(tenant, chat_ids: list[str] | None = None) -> int:
    """Re-count the members of the tenant's Telegram groups and channels (all, or the given ones)."""
    from audiences.models import TelegramChat
    from audiences.telegram import telegram_chats_refresh

    chats = TelegramChat.objects.filter(tenant=tenant)
    if chat_ids is not None:
        chats = chats.filter(pk__in=chat_ids)
    refreshed, problems = telegram_chats_refresh(chats=chats)
    for problem in problems:
        logger.warning("Telegram member count for %s: %s", tenant.slug, problem)
    return refreshed


@shared_task(name="audiences.tasks.telegram_chats_refresh_all_task")
def telegram_chats_refresh_all_task() -> int:
    """Beat: one refresh task per active tenant that has a Telegram group the bot is still in."""
    from audiences.models import TelegramChat

    with scopes_disabled():  # a cross-tenant read of ids only; each task then runs in its tenant's scope
        tenant_ids = list(TelegramChat.objects.filter(bot_status__in=TelegramChat.ACTIVE, tenant__is_active=True)
                          .order_by().values_list("tenant_id", flat=True).distinct())
    for tenant_id in tenant_ids:
        transaction.on_commit(lambda tid=tenant_id: telegram_chats_refresh_task.delay(tid))
    return len(tenant_ids)
