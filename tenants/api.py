"""Server-to-server API plumbing: API-key authentication and JSON errors."""

from __future__ import annotations

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_scopes import scope

from tenants.services import api_key_authenticate


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _raw_key(request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-Api-Key", "").strip()


def api_key_required(view):
    """Authenticate with `Authorization: Bearer <key>` (or X-Api-Key) and enter its tenant scope.

    A missing, unknown or revoked key answers 401 before the view runs, so nothing is touched.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        api_key = api_key_authenticate(raw_key=_raw_key(request))
        if api_key is None:
            response = json_error(401, "A valid API key is required (Authorization: Bearer <key>).")
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        request.tenant = api_key.tenant
        request.api_key = api_key
        with scope(tenant=api_key.tenant_id):
            return view(request, *args, **kwargs)

    return wrapper
