"""The preference centre and one-click unsubscribe: reached from messages, no login.

A GET only shows the page: mail scanners and link previewers fetch every link in a message,
so nothing may change until the contact presses a button (or a mail client sends the RFC 8058
one-click POST). A forged or foreign token answers 404 and records nothing.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from audiences import services
from audiences.models import CONSENT_CHANNELS, ConsentSource, ConsentState, Contact
from tenants.models import CHANNEL_LABELS, Tenant
from tenants.scoping import tenant_scope


def _contact_for(token: str) -> tuple[Contact, str]:
    parsed = services.unsubscribe_token_read(token)
    if parsed is None:
        raise Http404("Unknown link")
    tenant_id, contact_hex, channel = parsed
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise Http404("Unknown link")
    with tenant_scope(tenant):
        contact = Contact.objects.filter(tenant=tenant, pk=contact_hex).select_related("tenant").first()
    if contact is None:
        raise Http404("Unknown link")
    return contact, channel if channel in CONSENT_CHANNELS else ""


def _evidence(request, how: str) -> dict:
    return {"via": how, "ip": request.META.get("REMOTE_ADDR", ""),
            "user_agent": request.headers.get("User-Agent", "")[:300]}


# The token is the credential and the page has no session, so a CSRF token adds nothing; the
# form still posts only on a button press.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    contact, channel = _contact_for(token)
    changed: list[str] = []
    with tenant_scope(contact.tenant_id):
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "all":
                changed = services.consent_opt_out_everywhere(
                    contact=contact, source=ConsentSource.UNSUBSCRIBE, evidence=_evidence(request, "preferences:all"))
            elif action == "channel" and channel:
                changed = services.consent_set_channels(
                    contact=contact, states={channel: ConsentState.OPTED_OUT}, source=ConsentSource.UNSUBSCRIBE,
                    evidence=_evidence(request, "preferences:channel"))
            elif action == "save":
                wanted = set(request.POST.getlist("channels"))
                states = {}
                for ch in CONSENT_CHANNELS:
                    current = contact.consent(ch)
                    if ch in wanted and current != ConsentState.OPTED_IN:
                        states[ch] = ConsentState.OPTED_IN
                    elif ch not in wanted and current == ConsentState.OPTED_IN:
                        states[ch] = ConsentState.OPTED_OUT
                changed = services.consent_set_channels(
                    contact=contact, states=states, source=ConsentSource.UNSUBSCRIBE,
                    evidence=_evidence(request, "preferences:save"))
            else:
                return HttpResponse("Unknown action", status=400, content_type="text/plain")
    rows = [{"key": ch, "label": CHANNEL_LABELS[ch], "opted_in": contact.consent(ch) == ConsentState.OPTED_IN,
             "opted_out": contact.consent(ch) == ConsentState.OPTED_OUT} for ch in CONSENT_CHANNELS]
    return render(request, "audiences/preferences.html", {
        "contact": contact, "tenant": contact.tenant, "channel": channel,
        "channel_label": CHANNEL_LABELS.get(channel, ""), "rows": rows, "submitted": request.method == "POST",
        "changed": [CHANNEL_LABELS[c] for c in changed],
    })


@csrf_exempt
@require_POST
def one_click(request, token: str):
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`; answer 200, no redirect."""
    contact, channel = _contact_for(token)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse("Expected List-Unsubscribe=One-Click", status=400, content_type="text/plain")
    with tenant_scope(contact.tenant_id):
        services.consent_set_channels(
            contact=contact, states={channel or "email": ConsentState.OPTED_OUT}, source=ConsentSource.UNSUBSCRIBE,
            evidence=_evidence(request, "one-click"))
    return HttpResponse("You are unsubscribed.", content_type="text/plain")
