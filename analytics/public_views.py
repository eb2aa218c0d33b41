"""Public tracking endpoints, reached from messages without a login.

A token that fails its check (changed, truncated, made for another tenant, or naming a link of
another campaign) answers 404 and records nothing.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from analytics import services, tracking
from analytics.models import ConversionSource, TrackedLink
from campaigns.models import Delivery
from tenants.scoping import scopes_disabled, tenant_scope

# The smallest transparent GIF (43 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_EVENT_LENGTH = 80


def _delivery(uuid) -> Delivery:
    with scopes_disabled():  # the token names its tenant only through the delivery
        delivery = Delivery.objects.filter(uuid=uuid).select_related("channel_config").first()
    if delivery is None:
        raise Http404("Unknown link")
    return delivery


@never_cache
@require_GET
def click(request, token: str):
    parsed = tracking.click_token_peek(token)
    if parsed is None:
        raise Http404("Unknown link")
    delivery = _delivery(parsed.delivery_uuid)
    if not tracking.click_token_valid(token, tenant_id=delivery.tenant_id):
        raise Http404("Unknown link")
    with tenant_scope(delivery.tenant_id):
        link = TrackedLink.objects.filter(tenant_id=delivery.tenant_id, campaign_id=delivery.campaign_id,
                                          pk=parsed.link_id).first()
        if link is None:
            raise Http404("Unknown link")
        services.click_record(delivery=delivery, link=link, user_agent=request.headers.get("User-Agent", ""))
        event = request.GET.get("conv", "").strip()[:MAX_EVENT_LENGTH]
        if event:
            services.conversion_record(tenant_id=delivery.tenant_id, event=event, delivery=delivery,
                                       source=ConversionSource.REDIRECT)
    return HttpResponseRedirect(link.url)


@never_cache
@require_GET
def open_pixel(request, token: str):
    delivery_uuid = tracking.open_token_peek(token)
    if delivery_uuid is None:
        raise Http404("Unknown image")
    delivery = _delivery(delivery_uuid)
    if not tracking.open_token_valid(token, tenant_id=delivery.tenant_id):
        raise Http404("Unknown image")
    with tenant_scope(delivery.tenant_id):
        services.open_record(delivery=delivery)
    return HttpResponse(PIXEL, content_type="image/gif")
