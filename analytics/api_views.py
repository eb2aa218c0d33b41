"""POST /api/v1/conversions: a tenant's own systems report goals reached (server to server).

    Authorization: Bearer cpk_...
    {"event": "purchase", "revenue": "49.90", "occurred_at": "2026-11-20T10:00:00Z",
     "delivery": "<delivery uuid>"  |  "contact_id": "<uuid>"  |  "email": "..."  |  "phone": "..."}

201 with the conversion and what it was attributed to; 400 with a message per field; 401 for a
missing, unknown or revoked key; 429 with Retry-After past the per-key rate.
"""

from __future__ import annotations

import json
import uuid as uuid_lib
from decimal import Decimal, InvalidOperation

from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from analytics import services
from audiences.models import Contact
from audiences.services import email_normalize, phone_normalize
from campaigns.models import Delivery
from tenants.api import api_key_required, api_rate_limited, json_error

MAX_REVENUE = Decimal("999999999999.99")
FUTURE_TOLERANCE_SECONDS = 300


def _parse(request, tenant) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}, {"body": "The body must be a JSON object."}
    if not isinstance(body, dict):
        return {}, {"body": "The body must be a JSON object."}
    data: dict = {}

    event = body.get("event")
    if not isinstance(event, str) or not event.strip():
        errors["event"] = "Name the event, e.g. \"purchase\"."
    elif len(event.strip()) > 80:
        errors["event"] = "At most 80 characters."
    else:
        data["event"] = event.strip()

    try:
        revenue = Decimal(str(body.get("revenue", "0") or "0"))
        if not revenue.is_finite() or revenue < 0 or revenue > MAX_REVENUE:
            raise InvalidOperation
        data["revenue"] = revenue.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors["revenue"] = "A non-negative amount such as 49.90."

    occurred_raw = body.get("occurred_at")
    if occurred_raw in (None, ""):
        data["occurred_at"] = timezone.now()
    else:
        occurred = parse_datetime(occurred_raw) if isinstance(occurred_raw, str) else None
        if occurred is None or timezone.is_naive(occurred):
            errors["occurred_at"] = "An ISO 8601 time with its offset, e.g. 2026-11-20T10:00:00Z."
        elif (occurred - timezone.now()).total_seconds() > FUTURE_TOLERANCE_SECONDS:
            errors["occurred_at"] = "This time is in the future."
        else:
            data["occurred_at"] = occurred

    references = [k for k in ("delivery", "contact_id", "email", "phone") if body.get(k)]
    if not references:
        errors["contact"] = "Give one of delivery, contact_id, email or phone."
    elif len(references) > 1:
        errors["contact"] = "Give only one of delivery, contact_id, email or phone."
    else:
        key = references[0]
        value = body[key]
        found = _reference(key, value, tenant) if isinstance(value, str) else None
        if found is None:
            errors[key] = f"No {'delivery' if key == 'delivery' else 'contact'} in this workspace matches."
        else:
            data.update(found)
    return data, errors


def _reference(key: str, value: str, tenant) -> dict | None:
    if key in ("delivery", "contact_id"):
        try:
            pk = uuid_lib.UUID(value)
        except ValueError:
            return None
        if key == "delivery":
            delivery = Delivery.objects.filter(tenant=tenant, uuid=pk, is_test=False).first()
            return {"delivery": delivery} if delivery else None
        contact = Contact.objects.filter(tenant=tenant, pk=pk).first()
        return {"contact": contact} if contact else None
    try:
        if key == "email":
            lookup = {"email": email_normalize(value)}
        else:
            lookup = {"phone": phone_normalize(value, region=tenant.default_phone_region)}
    except ValueError:
        return None
    contact = Contact.objects.filter(tenant=tenant, **lookup).order_by("pk").first()
    return {"contact": contact} if contact else None


@require_POST
@api_key_required
@api_rate_limited("conversions", rate_setting="API_RATE_PER_SECOND", burst_setting="API_RATE_BURST",
                  default_rate=20.0, default_burst=100.0)
def conversions(request):
    data, errors = _parse(request, request.tenant)
    if errors:
        return json_error(400, "Invalid conversion.", fields=errors)
    result = services.conversion_record(tenant_id=request.tenant.pk, **data)
    conversion = result.conversion
    return JsonResponse({
        "id": str(conversion.pk),
        "event": conversion.event,
        "revenue": str(conversion.revenue),
        "occurred_at": conversion.occurred_at.isoformat(),
        "attributed": conversion.delivery_id is not None,
        "delivery": str(conversion.delivery.uuid) if conversion.delivery else None,
        "campaign": str(conversion.campaign_id) if conversion.campaign_id else None,
    }, status=201)
