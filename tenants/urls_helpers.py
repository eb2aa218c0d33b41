from __future__ import annotations

from django.urls import reverse


def tenant_reverse(tenant, view_name: str, *args, **kwargs) -> str:
    slug = tenant if isinstance(tenant, str) else tenant.slug
    if kwargs:
        return reverse(view_name, kwargs={"tenant_slug": slug, **kwargs})
    return reverse(view_name, args=[slug, *args])
