from __future__ import annotations

from django.apps import apps
from django.core.checks import Error, register

from tenants.models import Tenant


def tenant_owned_models():
    """Every concrete model with a foreign key to Tenant."""
    for model in apps.get_models():
        if model is Tenant:
            continue
        if any(
            f.many_to_one and f.related_model is Tenant for f in model._meta.get_fields() if f.concrete
        ):
            yield model


def has_scoped_default_manager(model) -> bool:
    # django-scopes builds its manager class inside ScopedManager(); it is the only manager with
    # with_scopes_disabled().
    return hasattr(model._default_manager, "with_scopes_disabled")


@register()
def check_tenant_models_are_scoped(app_configs, **kwargs):
    return [
        Error(
            f"{model._meta.label} has a foreign key to Tenant but its default manager is not scoped.",
            hint="Inherit from tenants.models.TenantOwnedModel or set objects = ScopedManager(tenant='tenant').",
            obj=model,
            id="tenants.E001",
        )
        for model in tenant_owned_models()
        if not has_scoped_default_manager(model)
    ]
