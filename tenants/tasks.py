"""TenantTask: the base class for every Celery task that works on a tenant's data.

Call it as `some_task.delay(tenant_id, ...)`: the first argument names the tenant, the task body
runs inside that tenant's scope and receives the Tenant object. Nothing survives from one task to
the next in a worker: the scope is a context variable that is reset when the task returns.
"""

from __future__ import annotations

import logging

from celery import Task

from tenants.models import Tenant
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)


class FeatureDisabled(Exception):
    """Raised when a tenant's feature flag forbids the work a task was asked to do."""


class TenantTask(Task):
    # Set to a Tenant flag name (e.g. "campaigns_enabled") to refuse work when it is off.
    required_flag: str | None = None

    def __call__(self, tenant_id: int, *args, **kwargs):
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            logger.warning("%s skipped: tenant %s is missing or inactive", self.name, tenant_id)
            return None
        if self.required_flag and not getattr(tenant, self.required_flag):
            logger.warning("%s refused: %s is off for tenant %s", self.name, self.required_flag, tenant.slug)
            raise FeatureDisabled(f"{self.required_flag} is off for tenant {tenant.slug}")
        with tenant_scope(tenant):
            return self.run(tenant, *args, **kwargs)
