"""Tenant scope: the one place that knows how a tenant becomes "current".

Web requests enter it in TenantMiddleware, Celery tasks in TenantTask, management commands with
`tenant_scope(tenant)`. Cache keys carry the current tenant, so two tenants never share an entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django_scopes import get_scope, scope, scopes_disabled

if TYPE_CHECKING:
    from tenants.models import Tenant

__all__ = ["current_tenant_id", "make_cache_key", "scopes_disabled", "tenant_scope"]


@contextmanager
def tenant_scope(tenant: Tenant | int) -> Iterator[None]:
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    with scope(tenant=tenant_id):
        yield


def current_tenant_id() -> int | None:
    value = get_scope().get("tenant")
    return value if isinstance(value, int) else getattr(value, "pk", None)


def make_cache_key(key: str, key_prefix: str, version: int) -> str:
    """Django cache KEY_FUNCTION: every key made inside a tenant scope is namespaced by it."""
    tenant_id = current_tenant_id()
    namespace = f"t{tenant_id}" if tenant_id is not None else "global"
    return f"{key_prefix}:{version}:{namespace}:{key}"
