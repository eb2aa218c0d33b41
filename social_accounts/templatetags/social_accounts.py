"""{% load social_accounts %}{% social_attention_banner %}: the expired/disconnected warning,
for every page of the social channel (social accounts pages, the campaign wizard's social step)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("social_accounts/attention_banner.html", takes_context=True)
def social_attention_banner(context):
    from social_accounts.selectors import (
        social_accounts_expiring_soon,
        social_accounts_needing_attention,
    )

    request = context.get("request")
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return {"accounts": [], "expiring": []}
    return {
        "request": request,
        "accounts": social_accounts_needing_attention(tenant),
        "expiring": social_accounts_expiring_soon(tenant),
    }
