"""Provider callbacks: POST /hooks/<provider>/<opaque-config-token>/.

Order matters and is the whole security story:
  1. find the config by its unguessable token (across tenants), 404 when unknown;
  2. refuse oversized bodies (413) from Content-Length, before reading anything;
  3. the adapter checks the signature on the raw body with THIS config's own secret, in constant
     time (403 and nothing written when it fails: a request signed with another tenant's secret
     fails here too, because the token picked this tenant's secret);
  4. only then parse, dedupe on (config, event id) and hand the new events to the delivery engine
     through signals, inside one transaction: if a receiver fails, the dedupe rows roll back and
     the provider's retry is applied later instead of being lost.

Behind a TLS-terminating proxy, request.build_absolute_uri() (what Twilio signs) must be the
public URL: TRUST_PROXY_HEADERS enables X-Forwarded-Proto/Host/Port handling in settings.

Signal receivers (the delivery engine) may return the events they could not match to a message
(unknown message ids): those are logged here and otherwise ignored; the provider still gets 200,
since retrying cannot make an unknown id known.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from channels.base import ProviderError, StatusEvent
from channels.crypto import DecryptionError
from channels.models import ChannelConfig
from channels.selectors import channel_adapter, channel_config_by_token
from channels.services import webhook_events_record
from channels.signals import keyword_received, status_events_received
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024


def _max_body() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY))


def _too_large() -> HttpResponse:
    return HttpResponse("Request body too large", status=413, content_type="text/plain")


# Providers post from their servers with no session or cookie, so CSRF protection does not apply;
# the per-config signature check is what authenticates these requests.
@csrf_exempt
def hook(request, provider: str, token: str):
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    config = channel_config_by_token(provider=provider, token=token)
    if config is None or not config.tenant.is_active:
        raise Http404("No such webhook")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("Bad Content-Length", status=400, content_type="text/plain")
    if length > _max_body():
        logger.warning("Webhook %s/%s refused: body of %s bytes", provider, config.pk, length)
        return _too_large()

    with tenant_scope(config.tenant):
        try:
            adapter = channel_adapter(config)
        except DecryptionError:
            logger.error("Webhook %s/%s: the config's secrets do not decrypt", provider, config.pk)
            return HttpResponse("Webhook not configured", status=503, content_type="text/plain")
        if request.method == "GET":
            return _handshake(request, adapter, config)
        return _receive(request, adapter, config)


def _handshake(request, adapter, config: ChannelConfig) -> HttpResponse:
    """Subscription handshakes (Meta's hub.challenge) are GETs; adapters that have one answer it."""
    verify = getattr(adapter, "verify_subscription", None)
    response = verify(request) if callable(verify) else None
    if response is None:
        return HttpResponseNotAllowed(["POST"])
    return response


def _receive(request, adapter, config: ChannelConfig) -> HttpResponse:
    body = request.body
    if len(body) > _max_body():
        return _too_large()
    try:
        verified = adapter.verify_callback(request)
    except ProviderError as exc:
        logger.warning("Webhook %s/%s: cannot verify (%s)", config.provider, config.pk, exc.message)
        verified = False
    if not verified:
        logger.warning(
            "Webhook %s/%s refused: signature missing or invalid (from %s)",
            config.provider, config.pk, request.META.get("REMOTE_ADDR", "?"),
        )
        return HttpResponseForbidden("Invalid signature", content_type="text/plain")

    try:
        events = adapter.parse_callback(request)
    except (ValueError, KeyError, TypeError, ProviderError) as exc:
        logger.warning("Webhook %s/%s: unparseable payload (%s)", config.provider, config.pk, exc.__class__.__name__)
        return HttpResponse("Unparseable payload", status=400, content_type="text/plain")

    with transaction.atomic():
        new_events = webhook_events_record(config=config, events=events, raw_body=body)
        if new_events:
            _dispatch(config, new_events)
    logger.info(
        "Webhook %s/%s: %d events, %d new", config.provider, config.pk, len(events), len(new_events)
    )
    responder = getattr(adapter, "callback_response", None)
    if callable(responder):
        return responder(new_events)
    return HttpResponse("", content_type="text/plain")


def _dispatch(config: ChannelConfig, events: list[StatusEvent]) -> None:
    replies = status_events_received.send(
        sender=ChannelConfig, tenant_id=config.tenant_id, config_id=config.pk, events=events
    )
    for _receiver, unmatched in replies:
        for event in unmatched or ():
            logger.info(
                "Webhook %s/%s: ignored %s event for unknown message %s",
                config.provider, config.pk, getattr(event.stage, "name", "inbound"),
                event.provider_message_id or event.message_id or "?",
            )
    for event in events:
        if event.keyword:
            keyword_received.send(
                sender=ChannelConfig,
                tenant_id=config.tenant_id,
                channel=config.channel,
                address=event.from_address,
                keyword=event.keyword,
                evidence={
                    "provider": config.provider,
                    "config_id": str(config.pk),
                    "text": event.text[:500],
                    "event_id": event.event_id,
                    "occurred_at": event.occurred_at.isoformat() if event.occurred_at else "",
                },
            )
