"""Public web push pages: /push/<token>/ (subscribe page), /push/<token>/sw.js (service worker),
/push/<token>/subscribe (stores the browser's subscription).

The opaque token is the tenant's web push ChannelConfig.webhook_token. There is no login here, so
the config is looked up with scopes disabled, then everything else runs inside that tenant's scope.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from channels.base import ProviderConfig
from channels.selectors import channel_config_by_token
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

MAX_BODY = 8 * 1024
WEBPUSH_KEY = "webpush"


def _push_config(token: str):
    """The active web push ChannelConfig behind a public token, or 404."""
    config = channel_config_by_token(provider=WEBPUSH_KEY, token=token)
    if config is None or not config.tenant.is_active or not config.is_active:
        raise Http404("No such notification page")
    return config


def _public_key(provider_config: ProviderConfig) -> str:
    key = str(provider_config.secrets.get("vapid_public_key") or "")
    if key:
        return key
    from py_vapid import Vapid

    from channels.providers.webpush import public_key_of

    private = str(provider_config.secrets.get("vapid_private_key") or "")
    if not private:
        raise Http404("Web push is not set up for this site")
    return public_key_of(Vapid.from_string(private))


@require_GET
def push_page(request, token: str):
    config = _push_config(token)
    with tenant_scope(config.tenant):
        provider_config = config.provider_config()
        site_name = str(provider_config.settings.get("site_name") or config.tenant.name)
        context = {
            "site_name": site_name,
            "prompt": str(provider_config.settings.get("prompt") or f"Get notified about offers and news from {site_name}."),
            "public_key": _public_key(provider_config),
            "subscribe_url": reverse("channels_public_urls:push_subscribe", args=[token]),
            "service_worker_url": reverse("channels_public_urls:push_service_worker", args=[token]),
            "scope": reverse("channels_public_urls:push_page", args=[token]),
        }
    response = render(request, "channels/push_subscribe.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token is the page's only credential
    return response


@cache
def _service_worker_source() -> str:
    path = finders.find("push-sw.js")
    if not path:
        raise Http404("Service worker missing")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@require_GET
def push_service_worker(request, token: str):
    _push_config(token)
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("channels_public_urls:push_page", args=[token])
    response["Cache-Control"] = "no-cache"  # browsers re-check the worker; a stale one lingers for days
    return response


class _Invalid(Exception):
    pass


def _b64url_bytes(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise _Invalid(f"keys.{name} is missing")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _Invalid(f"keys.{name} is not base64url") from None


def _check_endpoint(endpoint: object) -> str:
    if not isinstance(endpoint, str) or len(endpoint) > 1000:
        raise _Invalid("endpoint is missing")
    parts = urlsplit(endpoint)
    fake = urlsplit(settings.FAKE_PROVIDERS_URL)
    if (parts.scheme, parts.netloc) == (fake.scheme, fake.netloc) and parts.netloc:
        return endpoint  # the local fake push service (development and tests)
    if parts.scheme != "https" or not parts.hostname:
        raise _Invalid("endpoint must be an https URL of a push service")
    # We POST to this URL from our workers: never let it point at our own network.
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        raise _Invalid("endpoint must name a push service host, not an IP address")
    except ValueError:
        pass
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise _Invalid("endpoint must be a public push service")
    return endpoint


def _parse_subscription(body: bytes) -> dict:
    if len(body) > MAX_BODY:
        raise _Invalid("request too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _Invalid("body must be JSON") from None
    if not isinstance(data, dict):
        raise _Invalid("body must be a JSON object")
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    p256dh = _b64url_bytes(keys.get("p256dh"), "p256dh")
    auth = _b64url_bytes(keys.get("auth"), "auth")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise _Invalid("keys.p256dh is not a P-256 public key")
    if len(auth) != 16:
        raise _Invalid("keys.auth must be 16 bytes")
    email = str(data.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise _Invalid("email is not a valid address") from None
    replaces = data.get("replaces")
    return {
        "endpoint": _check_endpoint(data.get("endpoint")),
        "p256dh": keys["p256dh"],
        "auth": keys["auth"],
        "user_agent": str(data.get("user_agent") or "")[:300],
        "email": email,
        "replaces": replaces if isinstance(replaces, str) and replaces != data.get("endpoint") else "",
    }


# Anonymous endpoint: there is no session whose authority a forged request could borrow, so CSRF
# protection adds nothing; the service worker also re-posts rotated subscriptions without a token.
@csrf_exempt
@require_POST
def push_subscribe(request, token: str):
    config = _push_config(token)
    try:
        sub = _parse_subscription(request.body)
    except _Invalid as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if not sub["user_agent"]:
        sub["user_agent"] = request.headers.get("User-Agent", "")[:300]

    try:
        from audiences.models import Contact, PushSubscription
    except ImportError:  # audiences app without its models yet: say so rather than a 500
        return JsonResponse({"error": "Subscriptions cannot be stored yet."}, status=503)

    with tenant_scope(config.tenant), transaction.atomic():
        contact = Contact.objects.filter(email__iexact=sub["email"]).first() if sub["email"] else None
        if sub["replaces"]:
            PushSubscription.objects.filter(endpoint=sub["replaces"]).delete()
        defaults = {"p256dh": sub["p256dh"], "auth": sub["auth"], "user_agent": sub["user_agent"]}
        if contact is not None:
            defaults["contact"] = contact
        _subscription, created = PushSubscription.objects.update_or_create(
            tenant=config.tenant, endpoint=sub["endpoint"], defaults=defaults
        )
    # Security: this endpoint is anonymous, so the answer must not say whether the email belongs to a
    # contact (it used to return "contact_linked", letting anyone test emails against the contact list).
    return JsonResponse({"ok": True, "created": created}, status=201 if created else 200)
