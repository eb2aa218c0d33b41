"""AI replies settings of a campaign: response triggers, the fallback instruction, the training
status and a "Test AI responses" box that shows what would be answered without sending anything."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.ai_replies import services
from campaigns.ai_replies.answer import reply_decide
from campaigns.ai_replies.forms import InstructionForm, TestMessageForm, TriggerForm
from campaigns.ai_replies.selectors import (
    auto_replies_recent,
    autoreply_settings_for,
    handovers_context,
    handovers_tenant_context,
    sample_contact,
)
from campaigns.models import AiTrainingStatus, AutoReply, AutoReplyStatus, Campaign, ResponseTrigger
from campaigns.views.common import campaigns_required
from tenants.decorators import role_required
from tenants.models import Role
from tenants.urls_helpers import tenant_reverse


def _campaign(request, campaign_id) -> Campaign:
    return get_object_or_404(Campaign, tenant=request.tenant, pk=campaign_id)


def _page_url(request, campaign: Campaign) -> str:
    return tenant_reverse(request.tenant, "campaigns:autoreply", campaign.pk)


def _context(campaign: Campaign, **overrides) -> dict:
    options = autoreply_settings_for(campaign=campaign)
    context = {
        "campaign": campaign,
        "triggers": list(campaign.response_triggers.all()),
        "trigger_form": TriggerForm(initial={"position": campaign.response_triggers.count()}),
        "editing": None,
        "instruction_form": InstructionForm(initial={"instruction": options.instruction, "model": options.model}),
        "test_form": TestMessageForm(),
        "recent": auto_replies_recent(campaign=campaign, limit=10),
        "trained": campaign.ai_training_status == AiTrainingStatus.TRAINED,
        "has_whatsapp": "whatsapp" in campaign.channels,
    }
    context.update({k: v for k, v in overrides.items() if v is not None})
    return context


def _render(request, campaign: Campaign, *, status: int = 200, **overrides):
    return render(request, "campaigns/autoreply/settings.html", _context(campaign, **overrides), status=status)


@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def autoreply_settings(request, campaign_id):
    """GET the page; POST saves the fallback instruction."""
    campaign = _campaign(request, campaign_id)
    if request.method == "GET":
        return _render(request, campaign)
    form = InstructionForm(request.POST)
    if not form.is_valid():
        return _render(request, campaign, instruction_form=form, status=400)
    services.autoreply_settings_save(campaign=campaign, **form.cleaned_data)
    messages.success(request, "Fallback instruction saved.")
    return redirect(_page_url(request, campaign))


def _trigger_fields(form: TriggerForm) -> dict:
    return {k: form.cleaned_data[k] for k in ("kind", "keywords", "intent", "response", "position")}


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def trigger_add(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    form = TriggerForm(request.POST)
    if not form.is_valid():
        return _render(request, campaign, trigger_form=form, status=400)
    services.trigger_save(campaign=campaign, **_trigger_fields(form))
    messages.success(request, "Trigger added.")
    return redirect(_page_url(request, campaign))


@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def trigger_edit(request, campaign_id, trigger_id):
    campaign = _campaign(request, campaign_id)
    trigger = get_object_or_404(ResponseTrigger, tenant=request.tenant, campaign=campaign, pk=trigger_id)
    if request.method == "GET":
        form = TriggerForm(initial={"kind": trigger.kind, "keywords": ", ".join(trigger.keywords),
                                    "intent": trigger.intent, "response": trigger.response,
                                    "position": trigger.position})
        return _render(request, campaign, trigger_form=form, editing=trigger)
    form = TriggerForm(request.POST)
    if not form.is_valid():
        return _render(request, campaign, trigger_form=form, editing=trigger, status=400)
    services.trigger_save(campaign=campaign, trigger=trigger, **_trigger_fields(form))
    messages.success(request, "Trigger saved.")
    return redirect(_page_url(request, campaign))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def trigger_delete(request, campaign_id, trigger_id):
    campaign = _campaign(request, campaign_id)
    trigger = get_object_or_404(ResponseTrigger, tenant=request.tenant, campaign=campaign, pk=trigger_id)
    services.trigger_delete(trigger=trigger)
    messages.success(request, "Trigger deleted.")
    return redirect(_page_url(request, campaign))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def training_status(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    try:
        services.training_status_set(campaign=campaign, status=request.POST.get("status", ""))
    except services.TrainingRefused as exc:
        messages.error(request, str(exc))
    except ValueError:
        messages.error(request, "Choose Trained or Not trained.")
    else:
        messages.success(request, f"“{campaign.name}” is now {campaign.get_ai_training_status_display().lower()}.")
    return redirect(_page_url(request, campaign))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def autoreply_test(request, campaign_id):
    """What the campaign would answer; nothing is sent or recorded."""
    campaign = _campaign(request, campaign_id)
    form = TestMessageForm(request.POST)
    contact = sample_contact(campaign=campaign)
    decision = (reply_decide(campaign=campaign, text=form.cleaned_data["message"], contact=contact)
                if form.is_valid() else None)
    result = {"test_form": form, "decision": decision, "sample": contact}
    if request.htmx:
        return render(request, "campaigns/autoreply/settings.html#test-result", {"campaign": campaign, **result})
    return _render(request, campaign, **result)


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def handover_handled(request, campaign_id, reply_id):
    """Mark a handover answered: it leaves the "Needs a human" queue (htmx re-renders the queue)."""
    campaign = _campaign(request, campaign_id)
    reply = get_object_or_404(AutoReply, tenant=request.tenant, campaign=campaign, pk=reply_id,
                              status=AutoReplyStatus.HANDOVER)
    if services.handover_mark_handled(auto_reply=reply, actor=request.user):
        note = "Marked handled."
    else:
        note = "Someone had already marked it handled."
    if request.htmx:
        return render(request, "campaigns/autoreply/handovers.html",
                      {**handovers_context(campaign, can_edit=True), "flash": note})
    messages.success(request, note)
    return redirect(tenant_reverse(request.tenant, "campaigns:detail", campaign.pk) + "#handovers")


# --- the workspace-wide "Needs a human" queue (linked from the sidebar's count) ---------------------

@require_GET
@campaigns_required
def handovers_all(request):
    return render(request, "campaigns/autoreply/handovers_all.html",
                  handovers_tenant_context(request.tenant, can_edit=request.membership.can_edit))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def handovers_all_handled(request, reply_id):
    """Mark a handover answered from the workspace-wide queue (htmx re-renders that queue)."""
    reply = get_object_or_404(AutoReply, tenant=request.tenant, pk=reply_id, status=AutoReplyStatus.HANDOVER)
    if services.handover_mark_handled(auto_reply=reply, actor=request.user):
        note = "Marked handled."
    else:
        note = "Someone had already marked it handled."
    if request.htmx:
        return render(request, "campaigns/autoreply/handovers_all.html#queue",
                      {**handovers_tenant_context(request.tenant, can_edit=True), "flash": note})
    messages.success(request, note)
    return redirect(tenant_reverse(request.tenant, "campaigns:handovers"))
