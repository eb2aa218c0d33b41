"""Server-to-server API plumbing: API-key authentication, per-key rate limits and JSON errors."""

from __future__ import annotations

import math
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_scopes import scope

from channels import ratelimit  # the Redis token bucket every process shares (no app imports)
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


def api_rate_key(api_key, bucket: str) -> str:
    return f"rl:{{api:{api_key.pk}}}:{bucket}"


def api_rate_limited(bucket: str, *, rate_setting: str, burst_setting: str, default_rate: float,
                     default_burst: float):
    """Per API key and `bucket`, answer 429 with Retry-After past the configured rate.

    Goes under @api_key_required. The bucket lives in Redis, so every web process shares it; the
    rate and burst are read from settings at request time (tests and deployments override them).
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            rule = ratelimit.Rule(api_rate_key(request.api_key, bucket),
                                  float(getattr(settings, rate_setting, default_rate)),
                                  float(getattr(settings, burst_setting, default_burst)))
            grant = ratelimit.acquire([rule], tokens=1)
            if not grant.granted:
                response = json_error(429, "Too many requests for this API key; slow down.")
                response["Retry-After"] = str(max(1, math.ceil(grant.retry_after)))
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
