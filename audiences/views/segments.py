"""Segment pages: list, editor with a server-rendered rule builder and a live audience preview.

The builder and the preview are GET requests carrying the whole form, so analysts (read-only)
can try rules too; only saving and deleting are POSTs. Without JavaScript the builder's buttons
submit the form, and the editor re-renders with the change instead of saving.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from audiences.forms_segments import (
    CHANNEL_CHOICES,
    FIELD_CHOICES,
    HAS_CHOICES,
    SegmentForm,
    builder_apply,
    rule_nodes,
    rules_from_data,
)
from audiences.models import ConsentState, Contact, ContactList, ContactRole, Segment, Tag
from audiences.segments import SegmentRuleError, compile_rules
from audiences.selectors import PREVIEW_CHANNELS, audience_counts
from audiences.services_segments import segment_delete, segment_save
from tenants.urls_helpers import tenant_reverse

SAMPLE_SIZE = 10


@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for segment in Segment.objects.filter(tenant=request.tenant):
        try:
            # One COUNT per segment: tenants keep a handful of segments.
            count, error = Contact.objects.filter(tenant=request.tenant).filter(compile_rules(segment.rules)).count(), ""
        except SegmentRuleError as exc:
            count, error = None, str(exc)
        rows.append({"segment": segment, "count": count, "error": error})
    return render(request, "audiences/segment_list.html", {"rows": rows, "can_edit": request.membership.can_edit})


@require_http_methods(["GET", "POST"])
def segment_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, Segment(tenant=request.tenant))


@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk) -> HttpResponse:
    return _editor(request, get_object_or_404(Segment, tenant=request.tenant, pk=pk))


def _editor(request: HttpRequest, segment: Segment) -> HttpResponse:
    rules = segment.rules or {"match": "all", "rules": []}
    rules_error = ""
    if request.method == "POST":
        form = SegmentForm(request.POST, instance=segment, tenant=request.tenant)
        action = request.POST.get("action", "")
        if action:  # a builder button without JavaScript: apply it, save nothing
            rules = builder_apply(request.POST, action)
            form.errors.clear()
        else:
            rules = rules_from_data(request.POST)
            if form.is_valid():
                try:
                    segment_save(segment=form.instance, rules=rules, actor=request.user)
                except SegmentRuleError as exc:
                    rules_error = str(exc)
                else:
                    messages.success(request, f"Segment “{segment.name}” saved.")
                    return redirect(tenant_reverse(request.tenant, "audiences:segment_list"))
            else:
                rules_error = _rules_error(rules)
    else:
        form = SegmentForm(instance=segment, tenant=request.tenant)
    context = {
        "form": form, "segment": None if segment._state.adding else segment, "rules_error": rules_error,
        "can_edit": request.membership.can_edit,
        **_builder_context(request, rules), **_preview_context(request, rules),
    }
    return render(request, "audiences/segment_form.html", context, status=400 if form.errors or rules_error else 200)


def _rules_error(rules: dict) -> str:
    try:
        compile_rules(rules)
    except SegmentRuleError as exc:
        return str(exc)
    return ""


def _builder_context(request: HttpRequest, rules: dict) -> dict:
    return {
        "root_match": "any" if rules.get("match") == "any" else "all",
        "nodes": rule_nodes(rules),
        "field_choices": FIELD_CHOICES,
        "role_choices": ContactRole.choices,
        "tag_choices": [(str(t.pk), t.name) for t in Tag.objects.filter(tenant=request.tenant)],
        "list_choices": [(str(lst.pk), lst.name) for lst in ContactList.objects.filter(tenant=request.tenant)],
        "channel_choices": CHANNEL_CHOICES,
        "consent_choices": ConsentState.choices,
        "has_choices": HAS_CHOICES,
    }


def _preview_context(request: HttpRequest, rules: dict) -> dict:
    try:
        q = compile_rules(rules)
    except SegmentRuleError as exc:
        return {"preview_error": str(exc)}
    contacts = Contact.objects.filter(tenant=request.tenant).filter(q)
    channels = [c for c in PREVIEW_CHANNELS if request.tenant.channel_enabled(c)]
    counts = audience_counts(contacts, channels)
    sample = list(contacts.only("first_name", "last_name", "email", "phone", "city")[:SAMPLE_SIZE])
    labels = dict(CHANNEL_CHOICES)
    return {
        "preview_error": "", "total": counts["total"], "sample": sample,
        "reach": [{"channel": c, "label": labels[c], "count": counts[c]} for c in channels],
    }


@require_GET
def segment_builder(request: HttpRequest) -> HttpResponse:
    """The rule builder after one of its buttons, re-rendered from the form's current inputs,
    with the preview for the new rules swapped in out of band (one request, no race)."""
    rules = builder_apply(request.GET, request.GET.get("action", ""))
    builder = render_to_string("audiences/segment_form.html#builder", _builder_context(request, rules), request)
    preview = render_to_string("audiences/segment_form.html#preview",
                               {**_preview_context(request, rules), "oob": True}, request)
    return HttpResponse(builder + preview)


@require_GET
def segment_preview(request: HttpRequest) -> HttpResponse:
    return render(request, "audiences/segment_form.html#preview", _preview_context(request, rules_from_data(request.GET)))


@require_http_methods(["GET", "POST"])
def segment_delete_view(request: HttpRequest, pk) -> HttpResponse:
    segment = get_object_or_404(Segment, tenant=request.tenant, pk=pk)
    if request.method == "POST":
        segment_delete(segment=segment)
        messages.success(request, f"Segment “{segment.name}” deleted.")
        return redirect(tenant_reverse(request.tenant, "audiences:segment_list"))
    return render(request, "audiences/segment_confirm_delete.html", {"segment": segment})

