from __future__ import annotations

from tenants.models import Tenant


def tenant(request) -> dict:
    """Current tenant, membership and the user's other workspaces for the header switcher."""
    user = getattr(request, "user", None)
    workspaces = []
    if user is not None and user.is_authenticated:
        workspaces = list(Tenant.objects.filter(memberships__user=user, is_active=True).order_by("name"))
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": getattr(request, "membership", None),
        "workspaces": workspaces,
    }
