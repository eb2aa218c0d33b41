from __future__ import annotations

from django import template

from tenants.urls_helpers import tenant_reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def turl(context, view_name: str, *args, **kwargs) -> str:
    """{% turl 'campaigns:detail' campaign.pk %}: reverse inside the current tenant."""
    return tenant_reverse(context["request"].tenant, view_name, *args, **kwargs)
