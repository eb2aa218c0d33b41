"""POST /api/v1/events: the tenant's systems report what a contact did; matching event-triggered
campaigns start a journey for that contact.

    POST /api/v1/events
    Authorization: Bearer <tenant API key>
    {"event": "cart_abandoned",
     "contact": {"email": "asha@example.com"},          (or {"id": "<uuid>"} or {"phone": "+9198..."})
     "properties": {"cart_value": 2499, "currency": "INR"},
     "occurred_at": "2026-11-23T10:15:00+05:30"}        (optional; default now)

202 {"id": "<event uuid>", "journeys_started": n}; 400 with "error" and "fields" for bad input;
401 without a valid key; 404 when no contact matches; 429 with Retry-After past the key's rate.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from audiences.models import Contact
from audiences.services import email_normalize, phone_normalize
from campaigns.journeys.triggers import EVENT_NAME_RE, event_record
from tenants.api import api_key_required, api_rate_limited, json_error

MAX_BODY_BYTES = 32 * 1024
MAX_PROPERTIES = 100
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def _find_contact(tenant, ref) -> tuple[Contact | None, dict[str, str]]:
    if not isinstance(ref, dict) or not any(ref.get(k) for k in ("id", "email", "phone")):
        return None, {"contact": "Give the contact's id, email or phone, e.g. {\"email\": \"asha@example.com\"}."}
    contacts = Contact.objects.filter(tenant=tenant)
    if ref.get("id"):
        try:
            return contacts.filter(pk=uuid.UUID(str(ref["id"]))).first(), {}
        except ValueError:
            return None, {"contact": "That is not a contact id (a UUID)."}
    try:
        if ref.get("email"):
            return contacts.filter(email=email_normalize(str(ref["email"]))).first(), {}
        return contacts.filter(phone=phone_normalize(str(ref["phone"]), region=tenant.default_phone_region)).first(), {}
    except ValueError as exc:  # the normalizers explain what is wrong with the address
        return None, {"contact": str(exc)}


def _parse(request) -> tuple[dict, dict[str, str]]:
    if len(request.body) > MAX_BODY_BYTES:
        return {}, {"body": f"Keep the request under {MAX_BODY_BYTES // 1024} KB."}
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return {}, {"body": "Send a JSON object (Content-Type: application/json)."}
    if not isinstance(body, dict):
        return {}, {"body": "Send a JSON object."}
    problems: dict[str, str] = {}
    name = body.get("event")
    if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
        problems["event"] = "Name the event: 1-64 letters, digits or _ . : - (e.g. cart_abandoned)."
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        problems["properties"] = "Properties must be a JSON object."
    elif len(properties) > MAX_PROPERTIES:
        problems["properties"] = f"At most {MAX_PROPERTIES} properties."
    occurred_at = None
    if body.get("occurred_at") is not None:
        occurred_at = parse_datetime(str(body["occurred_at"])) if isinstance(body["occurred_at"], str) else None
        if occurred_at is None or timezone.is_naive(occurred_at):
            problems["occurred_at"] = "Use an ISO 8601 time with its offset, e.g. 2026-11-23T10:15:00+05:30."
        elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
            problems["occurred_at"] = "The event cannot happen in the future."
    return {"name": name, "properties": properties, "occurred_at": occurred_at, "contact": body.get("contact")}, problems


@require_POST
@api_key_required
@api_rate_limited("events", rate_setting="EVENTS_API_RATE_PER_SECOND", burst_setting="EVENTS_API_BURST",
                  default_rate=20.0, default_burst=40.0)
def events_create(request):
    data, problems = _parse(request)
    contact = None
    if not problems or "contact" not in problems:
        contact, contact_problem = _find_contact(request.tenant, data.get("contact"))
        problems.update(contact_problem)
    if problems:
        return json_error(400, "The event was not recorded: fix the fields listed.", fields=problems)
    if contact is None:
        return json_error(404, "No contact in this workspace matches that reference.")
    event, started = event_record(contact=contact, name=data["name"], properties=data["properties"],
                                  occurred_at=data["occurred_at"])
    return JsonResponse({"id": str(event.uuid), "journeys_started": started}, status=202)
