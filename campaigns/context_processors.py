"""Template context for every page: the sidebar's workspace-wide "Needs a human" count."""

from __future__ import annotations

from functools import cache


def needs_human(request) -> dict:
    """`needs_human_count`, counted only when a template reads it (once per request): pages without
    the sidebar, and JSON or htmx partials, never query."""
    tenant, membership = getattr(request, "tenant", None), getattr(request, "membership", None)
    if tenant is None or membership is None or not getattr(tenant, "campaigns_enabled", False):
        return {}

    @cache
    def count() -> int:
        from campaigns.ai_replies.selectors import handovers_open_tenant_count
        from tenants.scoping import tenant_scope

        # Its own scope: error pages (a 403 raised in the middleware) render after the request's ended.
        with tenant_scope(tenant.pk):
            return handovers_open_tenant_count(tenant_id=tenant.pk)

    return {"needs_human_count": count}
