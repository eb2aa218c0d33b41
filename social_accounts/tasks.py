"""Periodic re-check of social accounts: hourly from beat, one TenantTask per tenant."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from tenants.models import Tenant
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, name="social_accounts.tasks.social_accounts_recheck_task")
def social_accounts_recheck_task(tenant: Tenant) -> dict[str, int]:
    from social_accounts.services import social_accounts_recheck

    counts = social_accounts_recheck(tenant=tenant)
    logger.info("Social accounts of %s re-checked: %s", tenant.slug, counts)
    return counts


@shared_task(name="social_accounts.tasks.social_accounts_recheck_all_task")
def social_accounts_recheck_all_task() -> int:
    """Fan out: one task per active tenant with the social channel on."""
    tenant_ids = list(Tenant.objects.filter(is_active=True, social_enabled=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        transaction.on_commit(lambda tid=tenant_id: social_accounts_recheck_task.delay(tid))
    return len(tenant_ids)
