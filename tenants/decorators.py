from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from tenants.models import Role


def role_required(role: str):
    """Allow the view only to members holding `role` or a higher one (403 page otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.membership is None or not request.membership.has_role(role):
                raise PermissionDenied(f"This page needs the {Role(role).label} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def flag_required(flag: str, *, title: str):
    """Render a friendly "not enabled" page (200, no 500) when the tenant's flag is off."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not getattr(request.tenant, flag):
                return render(
                    request,
                    "tenants/feature_disabled.html",
                    {"feature_title": title, "flag": flag},
                    status=200,
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
