"""The campaign creation wizard: General -> Content -> Audience -> Budget & schedule -> Advanced -> Review.

Every POST saves the step (whichever button was pressed: Save and continue, Back, or a step in the
navigation) and then moves; invalid input re-renders the step with the errors next to their
fields and nothing typed is lost. Campaigns that are no longer editable are refused with a message.
"""

from __future__ import annotations

import json
import uuid
import zoneinfo
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audiences import selectors_telegram
from audiences.models import CONSENT_CHANNELS, ContactList, Segment, Tag
from audiences.selectors import audience_counts, audience_queryset
from campaigns import ai, preflight
from campaigns import services_wizard as wizard
from campaigns.content import content_for
from campaigns.forms import (
    CONTENT_FORMS,
    AdvancedForm,
    AudienceForm,
    BudgetScheduleForm,
    GeneralForm,
    SendTestForm,
)
from campaigns.lifecycle import IllegalTransition, ensure_editable
from campaigns.models import Campaign, SendMode
from campaigns.rendering import template_errors
from campaigns.selectors import (
    campaign_has_audience,
    campaign_telegram_targets,
    channel_needs_audience,
)
from campaigns.services import (
    CampaignNotReady,
    TestSendRefused,
    campaign_launch,
    campaign_send_test,
)
from campaigns.views.common import campaigns_required
from channels.providers import sms_segments
from tenants.decorators import role_required
from tenants.models import CHANNEL_LABELS, Role
from tenants.urls_helpers import tenant_reverse

STEPS = [("general", "General"), ("content", "Content"), ("audience", "Audience"),
         ("budget", "Budget & schedule"), ("advanced", "Advanced"), ("review", "Review")]
STEP_KEYS = [key for key, _ in STEPS]


@dataclass
class StepLink:
    key: str
    label: str
    number: int
    done: bool
    current: bool


def _campaign(request, pk) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("tenant"), tenant=request.tenant, pk=pk,
                             archived_at__isnull=True)


def _campaign_url(request, campaign: Campaign) -> str:
    return tenant_reverse(request.tenant, "campaigns:detail", campaign.pk)


def _step_url(request, campaign: Campaign, step: str) -> str:
    return tenant_reverse(request.tenant, "campaigns:edit", campaign.pk, step)


def step_completion(campaign: Campaign) -> dict[str, bool]:
    contents = {c.channel: c.data for c in campaign.contents.all()}
    general = bool(campaign.name and campaign.channels)
    content = general and all(
        ch in contents and not content_for(ch, contents[ch]).errors() for ch in campaign.channels)
    audience = general and (campaign_has_audience(campaign) or not channel_needs_audience(campaign))
    budget = campaign.send_mode != SendMode.SCHEDULED or campaign.scheduled_at is not None
    return {"general": general, "content": content, "audience": audience, "budget": budget,
            "advanced": general, "review": campaign.status != "draft"}


def _render_step(request, campaign: Campaign | None, step: str, context: dict, *, status: int = 200):
    done = step_completion(campaign) if campaign else {}
    steps = [StepLink(key, label, n, done.get(key, False), key == step) for n, (key, label) in enumerate(STEPS, 1)]
    index = STEP_KEYS.index(step)
    context.update({
        "campaign": campaign, "step": step,
        "channel_badges": [(c, CHANNEL_LABELS.get(c, c)) for c in campaign.channels] if campaign else [], "steps": steps, "step_label": dict(STEPS)[step],
        "has_back": index > 0, "has_form": campaign is not None and step != "review", "next_label": dict(STEPS).get(STEP_KEYS[min(index + 1, len(STEPS) - 1)]),
    })
    return render(request, f"campaigns/wizard/{step}.html", context, status=status)


def _target_after_save(request, campaign: Campaign, step: str):
    nav = request.POST.get("nav", "next")
    index = STEP_KEYS.index(step)
    if nav == "back":
        target = STEP_KEYS[max(0, index - 1)]
    elif nav in STEP_KEYS:
        target = nav
    elif nav == "stay":
        messages.success(request, "Draft saved.")
        target = step
    else:
        target = STEP_KEYS[min(index + 1, len(STEPS) - 1)]
    return redirect(_step_url(request, campaign, target))


def _refuse_if_locked(request, campaign: Campaign):
    try:
        ensure_editable(campaign)
    except IllegalTransition as exc:
        messages.error(request, str(exc))
        return redirect(_campaign_url(request, campaign))
    return None


# --- entry points --------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def campaign_new(request):
    """The General step of a campaign not yet saved; a valid POST creates the draft."""
    form = GeneralForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        campaign = wizard.campaign_draft_create(tenant=request.tenant, actor=request.user, fields={
            name: form.cleaned_data[name] for name in GeneralForm.Meta.fields})
        messages.success(request, f"Draft “{campaign.name}” created.")
        return _target_after_save(request, campaign, "general")
    return _render_step(request, None, "general", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def campaign_wizard(request, pk, step: str):
    campaign = _campaign(request, pk)
    if step not in STEP_KEYS:
        raise Http404("No such step")
    refused = _refuse_if_locked(request, campaign)
    if refused:
        return refused
    return STEP_VIEWS[step](request, campaign)


def _general(request, campaign: Campaign):
    form = GeneralForm(request.POST or None, instance=campaign, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        wizard.campaign_fields_update(campaign=campaign, fields={
            name: form.cleaned_data[name] for name in GeneralForm.Meta.fields})
        return _target_after_save(request, campaign, "general")
    return _render_step(request, campaign, "general", {"form": form}, status=400 if form.errors else 200)


def _content_forms(request, campaign: Campaign) -> list:
    contents = {c.channel: c for c in campaign.contents.select_related("channel_config")}
    bound = request.method == "POST"
    return [CONTENT_FORMS[ch](request.POST if bound else None, request.FILES if bound else None, campaign=campaign,
                              content=contents.get(ch)) for ch in campaign.channels]


def _content(request, campaign: Campaign):
    if not campaign.channels:
        messages.warning(request, "Choose at least one channel first.")
        return redirect(_step_url(request, campaign, "general"))
    forms = _content_forms(request, campaign)
    for form in forms:
        if form.channel == "sms":
            form.fields["text"].widget.attrs.update({
                "hx-get": tenant_reverse(request.tenant, "campaigns:wizard_sms_counter", campaign.pk),
                "hx-trigger": "input changed delay:300ms", "hx-target": "#sms-counter", "hx-swap": "outerHTML"})
    if request.method == "POST":
        for form in forms:
            if form.is_valid():  # valid panels are saved even when another panel has errors
                wizard.campaign_content_save(
                    campaign=campaign, channel=form.channel, data=form.to_data(),
                    channel_config=form.cleaned_data.get("channel_config"), media_field=form.media_field,
                    upload=form.cleaned_data.get("media_upload"), audio=form.media_audio)
        if all(form.is_valid() for form in forms):
            return _target_after_save(request, campaign, "content")
    sms_text = next((f["text"].value() or "" for f in forms if f.channel == "sms"), "")
    counter = _sms_counter_context(sms_text)
    if request.method == "POST":
        counter["errors"] = []  # the field shows them already
    context = {"forms": forms, "ai_reason": ai.ai_unavailable_reason(request.tenant), "sms_counter": counter}
    return _render_step(request, campaign, "content", context,
                        status=400 if any(f.errors for f in forms) else 200)


def _audience(request, campaign: Campaign):
    form = AudienceForm(request.POST or None, request.FILES or None, campaign=campaign)
    csv_result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lists = list(data["lists"])
        if data.get("csv_file"):
            csv_result = wizard.contact_list_from_csv(tenant=request.tenant, upload=data["csv_file"],
                                                      name=data["csv_list_name"], actor=request.user)
            if csv_result.contact_list is None or not csv_result.added:
                problems = csv_result.problems or ["The file has no rows."]
                form.add_error("csv_file", f"No contacts could be read ({csv_result.rejected} rows rejected). "
                               + " ".join(problems))
                if csv_result.contact_list is not None:
                    csv_result.contact_list.delete()
            else:
                lists.append(csv_result.contact_list)
        if form.is_valid():
            everyone = data["target"] == "everyone"
            wizard.campaign_audience_save(campaign=campaign, everyone=everyone,
                                          segments=[] if everyone else data["segments"],
                                          lists=[] if everyone else lists, tags=[] if everyone else data["tags"],
                                          telegram_targets=data.get("telegram_targets"))
            if csv_result:
                note = f" {csv_result.rejected} rows rejected: " + " ".join(csv_result.problems) \
                    if csv_result.rejected else ""
                messages.success(request, f"List “{csv_result.contact_list.name}” created with {csv_result.added} "
                                          f"contacts ({csv_result.created} new).{note}")
            return _target_after_save(request, campaign, "audience")
    choice = _audience_choice_from(request, campaign)
    context = {"form": form, **_counts_context(campaign, choice),
               **_telegram_context(request, campaign, choice)}
    return _render_step(request, campaign, "audience", context, status=400 if form.errors else 200)


def _budget(request, campaign: Campaign):
    form = BudgetScheduleForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        wizard.campaign_budget_schedule_save(campaign=campaign, cleaned=form.cleaned_data)
        return _target_after_save(request, campaign, "budget")
    return _render_step(request, campaign, "budget", {"form": form, "tenant_tz": request.tenant.timezone},
                        status=400 if form.errors else 200)


def _advanced(request, campaign: Campaign):
    form = AdvancedForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        wizard.campaign_fields_update(campaign=campaign, fields={
            name: form.cleaned_data[name] for name in AdvancedForm.Meta.fields})
        return _target_after_save(request, campaign, "advanced")
    return _render_step(request, campaign, "advanced", {"form": form}, status=400 if form.errors else 200)


def _review(request, campaign: Campaign, *, test_form=None, test_result=None, launch_problems=None, status=200):
    if request.method == "POST":
        return _target_after_save(request, campaign, "review")
    pf = preflight.campaign_preflight(campaign)
    context = {
        "pf": pf, "total_recipients": sum(e.recipients for e in pf.estimates),
        "scheduled_local": campaign.scheduled_at.astimezone(zoneinfo.ZoneInfo(campaign.timezone_name))
        if campaign.scheduled_at else None,
        "test_form": test_form or SendTestForm(campaign=campaign),
        "needs_audience": channel_needs_audience(campaign),
        "telegram_targets": campaign_telegram_targets(campaign) if "telegram" in campaign.channels else None,
        "test_result": test_result, "launch_problems": launch_problems,
    }
    return _render_step(request, campaign, "review", context, status=status)


STEP_VIEWS = {"general": _general, "content": _content, "audience": _audience, "budget": _budget,
              "advanced": _advanced, "review": _review}


# --- review actions ------------------------------------------------------------------------------

@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def campaign_launch_view(request, pk):
    campaign = _campaign(request, pk)
    try:
        campaign = campaign_launch(campaign=campaign, actor=request.user)
    except CampaignNotReady as exc:
        request.method = "GET"  # render the review, not another save
        return _review(request, campaign, launch_problems=exc.problems, status=400)
    except IllegalTransition as exc:
        messages.error(request, str(exc))
        return redirect(_campaign_url(request, campaign))
    if campaign.status == "scheduled":
        local = timezone.localtime(campaign.scheduled_at, zoneinfo.ZoneInfo(campaign.timezone_name))
        messages.success(request, f"“{campaign.name}” is scheduled for {local:%d %b %Y %H:%M} ({local.tzname()}).")
    else:
        messages.success(request, f"“{campaign.name}” is sending now.")
    return redirect(_campaign_url(request, campaign))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def campaign_send_test_view(request, pk):
    campaign = _campaign(request, pk)
    form = SendTestForm(request.POST, campaign=campaign)
    result = None
    if form.is_valid():
        try:
            delivery = campaign_send_test(campaign=campaign, channel=form.cleaned_data["channel"],
                                          contact=form.cleaned_data["contact"],
                                          address=form.cleaned_data.get("address", ""))
        except TestSendRefused as exc:
            form.add_error(None, str(exc))
        else:
            ok = delivery.status not in ("failed", "skipped")
            detail = delivery.error_message or delivery.get_status_display().lower()
            result = {"ok": ok, "message": f"Test {CHANNEL_LABELS[delivery.channel]} message to {delivery.address}: "
                                           f"{detail}."}
    if request.htmx:
        return render(request, "campaigns/wizard/review.html#send-test",
                      {"campaign": campaign, "test_form": form, "test_result": result})
    request.method = "GET"
    return _review(request, campaign, test_form=form, test_result=result, status=200 if result else 400)


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def campaign_save_draft(request, pk):
    campaign = _campaign(request, pk)
    messages.success(request, f"Draft “{campaign.name}” saved.")
    return redirect(tenant_reverse(request.tenant, "campaigns:list"))


# --- htmx helpers --------------------------------------------------------------------------------

def _sms_counter_context(text: str) -> dict:
    encoding, parts = sms_segments.segments(text)
    per = sms_segments.SINGLE[encoding] if parts == 1 else sms_segments.MULTI[encoding]
    return {"length": sms_segments.length(text), "encoding": encoding, "parts": parts, "per": per,
            "errors": template_errors(text), "chars": len(text)}


@require_GET
@campaigns_required
@role_required(Role.MARKETER)
def sms_counter(request, pk):
    campaign = _campaign(request, pk)
    return render(request, "campaigns/wizard/content.html#sms-counter",
                  {"campaign": campaign, "sms_counter": _sms_counter_context(request.GET.get("sms-text", ""))})


def _audience_choice_from(request, campaign: Campaign) -> dict:
    """The audience being edited (query or form data), else the saved one."""
    source = request.POST if request.method == "POST" else request.GET
    if "target" not in source:
        return {"everyone": campaign.audience_everyone, "segments": list(campaign.segments.all()),
                "lists": list(campaign.lists.all()), "tags": list(campaign.tags.all())}
    tenant_id = campaign.tenant_id

    def ids(model, key):
        values = []
        for value in source.getlist(key):
            try:
                values.append(uuid.UUID(value))
            except ValueError:  # a mangled id selects nothing
                continue
        return list(model.objects.filter(tenant_id=tenant_id, pk__in=values))

    return {"everyone": source.get("target") == "everyone", "segments": ids(Segment, "segments"),
            "lists": ids(ContactList, "lists"), "tags": ids(Tag, "tags")}


def _counts_context(campaign: Campaign, choice: dict) -> dict:
    channels = [c for c in campaign.channels if c in CONSENT_CHANNELS]
    contacts = audience_queryset(tenant_id=campaign.tenant_id, **choice)
    if contacts.query.is_empty():  # nothing chosen yet; there is no SQL to run for .none()
        counts = {"total": 0, **{c: 0 for c in channels}}
    else:
        counts = audience_counts(contacts, channels)
    return {"counts_total": counts["total"],
            "counts": [(CHANNEL_LABELS[c], c, counts[c]) for c in channels]}


def _telegram_context(request, campaign: Campaign, choice: dict) -> dict:
    """The Telegram targets panel of the Audience step: what is being edited, else what was saved."""
    if "telegram" not in campaign.channels:
        return {}
    source = request.POST if request.method == "POST" else request.GET
    if "target" in source:  # a form posted or sent by htmx: radios and ticks as they stand
        targets = {"subscribers": source.get("tg_subscribers", "none"), "chat_ids": source.getlist("tg_chat_ids")}
    else:
        targets = campaign_telegram_targets(campaign)
    contacts = audience_queryset(tenant_id=campaign.tenant_id, **choice)
    return {"telegram": True, **selectors_telegram.telegram_targets_context(
        tenant_id=campaign.tenant_id, targets=targets, contacts=contacts, in_form=True)}


@require_GET
@campaigns_required
@role_required(Role.MARKETER)
def audience_counts_view(request, pk):
    """The Reach box as the audience or the Telegram targets change; the Telegram reach line
    travels along out of band (its number depends on both)."""
    campaign = _campaign(request, pk)
    choice = _audience_choice_from(request, campaign)
    return render(request, "campaigns/wizard/audience.html#counts",
                  {"campaign": campaign, **_counts_context(campaign, choice),
                   **_telegram_context(request, campaign, choice), "tg_oob": True})


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def ai_variants(request, pk, channel: str):
    campaign = _campaign(request, pk)
    if channel not in campaign.channels:
        raise Http404("Channel not in this campaign")
    context = {"campaign": campaign, "channel": channel, "variants": [], "ai_error": ""}
    try:
        context["variants"] = [
            {"values": v.values, "fill": json.dumps({f"id_{channel}-{name}": value for name, value in v.values.items()})}
            for v in ai.content_variants(campaign=campaign, channel=channel)
        ]
    except (ai.AiUnavailable, ai.AiError) as exc:
        context["ai_error"] = str(exc)
    return render(request, "campaigns/wizard/content.html#ai-variants", context)
