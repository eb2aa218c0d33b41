"""The ORM refuses tenant-owned queries outside a tenant scope, and nothing leaks across tenants."""

from __future__ import annotations

import pytest
from celery import shared_task
from django.core.cache import cache
from django_scopes import ScopeError

from tenants.checks import (
    check_tenant_models_are_scoped,
    has_scoped_default_manager,
    tenant_owned_models,
)
from tenants.models import ApiKey, Membership
from tenants.scoping import current_tenant_id, tenant_scope
from tenants.tasks import FeatureDisabled, TenantTask

pytestmark = pytest.mark.django_db


def test_every_tenant_owned_model_has_the_scoped_default_manager():
    models = list(tenant_owned_models())
    assert Membership in models and ApiKey in models
    unscoped = [m._meta.label for m in models if not has_scoped_default_manager(m)]
    assert unscoped == []
    assert check_tenant_models_are_scoped(None) == []


def test_a_query_on_a_tenant_owned_model_outside_a_scope_raises(owner):
    with pytest.raises(ScopeError):
        list(Membership.objects.all())
    with pytest.raises(ScopeError):
        Membership.objects.filter(role="admin").count()


def test_a_scoped_query_sees_only_its_tenants_rows(tenant_a, tenant_b, owner, outsider):
    with tenant_scope(tenant_a):
        assert [m.user.username for m in Membership.objects.all()] == ["owner"]
    with tenant_scope(tenant_b):
        assert [m.user.username for m in Membership.objects.all()] == ["outsider"]
        # Another tenant's row by primary key is simply not found.
        with tenant_scope(tenant_b):
            assert not Membership.objects.filter(user__username="owner").exists()


def test_cache_keys_carry_the_tenant(tenant_a, tenant_b):
    key = "dashboard-summary-test-key"
    with tenant_scope(tenant_a):
        cache.set(key, "A's numbers", 30)
    with tenant_scope(tenant_b):
        assert cache.get(key) is None
        cache.set(key, "B's numbers", 30)
    with tenant_scope(tenant_a):
        assert cache.get(key) == "A's numbers"
        cache.delete(key)
    with tenant_scope(tenant_b):
        cache.delete(key)


@shared_task(base=TenantTask)
def _report_scope(tenant):
    return {"tenant": tenant.slug, "scope": current_tenant_id(), "members": Membership.objects.count()}


@shared_task(base=TenantTask, required_flag="campaigns_enabled")
def _send_something(tenant):
    return "sent"


def test_a_worker_running_tenant_a_then_b_leaks_nothing_between_them(tenant_a, tenant_b, owner, marketer, outsider):
    # Run both tasks in this one process, as a worker would, one after the other.
    first = _report_scope.apply(args=[tenant_a.pk]).get()
    second = _report_scope.apply(args=[tenant_b.pk]).get()
    assert first == {"tenant": "tenant-a", "scope": tenant_a.pk, "members": 2}
    assert second == {"tenant": "tenant-b", "scope": tenant_b.pk, "members": 1}
    assert current_tenant_id() is None  # nothing left active after the task
    with pytest.raises(ScopeError):
        Membership.objects.count()


def test_workers_refuse_to_send_for_a_tenant_with_campaigns_disabled(tenant_a):
    assert _send_something.apply(args=[tenant_a.pk]).get() == "sent"
    tenant_a.campaigns_enabled = False
    tenant_a.save()
    result = _send_something.apply(args=[tenant_a.pk])
    assert isinstance(result.result, FeatureDisabled)


def test_tasks_for_an_inactive_tenant_do_nothing(tenant_a):
    tenant_a.is_active = False
    tenant_a.save()
    assert _report_scope.apply(args=[tenant_a.pk]).get() is None
