"""The workflow editor of a drip or triggered campaign: its trigger, its ordered steps (add,
edit, move, remove, each an htmx request that re-renders the list with its validation), the
per-step statistics once it runs, and the start button."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.journeys import workflow as wf
from campaigns.journeys.forms import StepForm, TriggerForm, step_label
from campaigns.journeys.services import (
    journey_campaign_launch,
    journey_readiness_errors,
    trigger_save,
)
from campaigns.journeys.stats import journey_totals, workflow_stats
from campaigns.lifecycle import EDITABLE_STATUSES, IllegalTransition
from campaigns.models import (
    Campaign,
    CampaignStatus,
    CampaignTrigger,
    CampaignType,
    StepKind,
    WorkflowStep,
)
from campaigns.services import CampaignNotReady
from campaigns.views.common import campaigns_required
from tenants.urls_helpers import tenant_reverse

PAGE = "campaigns/workflow/page.html"


def _campaign(request, campaign_id) -> Campaign:
    campaign = get_object_or_404(Campaign.objects.select_related("tenant"), tenant=request.tenant, pk=campaign_id,
                                 archived_at__isnull=True)
    if campaign.type == CampaignType.BROADCAST:
        raise Http404("A broadcast has no workflow.")
    return campaign


def _editable(request, campaign: Campaign) -> bool:
    return campaign.status in EDITABLE_STATUSES and request.membership is not None and request.membership.can_edit


def _require_editable(request, campaign: Campaign) -> None:
    if not _editable(request, campaign):
        raise PermissionDenied("This workflow can no longer be edited: clone the campaign to change it.")


def _describe(step: WorkflowStep, steps: list[WorkflowStep]) -> list[tuple[str, str]]:
    def name(target):
        return f"Step {target.position}" if target is not None else "Finish"

    if step.kind == StepKind.EXIT:
        return []
    if step.kind == StepKind.CONDITION:
        yes, no = wf.branches_of(step, steps)
        return [("Yes", name(yes)), ("No", name(no))]
    return [("Then", name(wf.next_of(step, steps)))]


def _summary(step: WorkflowStep, steps: list[WorkflowStep]) -> str:
    if step.kind == StepKind.SEND:
        data = step.data or {}
        text = data.get("subject") or data.get("title") or data.get("text") or data.get("session_text") \
            or data.get("script") or ""
        return text[:90] or "No content yet"
    if step.kind == StepKind.WAIT:
        if step.wait_mode == "until_time":
            return f"Until {step.wait_until:%H:%M} in the contact's time zone" if step.wait_until else "Until …"
        minutes = step.wait_minutes
        for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
            if minutes and minutes % size == 0:
                n = minutes // size
                return f"{n} {unit}{'s' if n != 1 else ''}"
        return "No duration yet"
    if step.kind == StepKind.CONDITION:
        target = next((s for s in steps if s.pk == step.condition_step_id), None)
        if step.condition_kind in ("opened", "clicked", "replied"):
            return f"{step.get_condition_kind_display()} — step {target.position if target else '?'}"
        rule = step.condition_rule or {}
        if step.condition_kind == "attribute":
            return f"Attribute {rule.get('key', '?')} {rule.get('op', '')} {rule.get('value', '')}".strip()
        return step.get_condition_kind_display() if step.condition_kind else "Not set"
    return "The journey ends here"


def _context(request, campaign: Campaign, *, editing: WorkflowStep | None = None, form: StepForm | None = None,
             trigger_form: TriggerForm | None = None) -> dict:
    steps = wf.workflow_steps(campaign)
    errors = wf.workflow_errors(campaign, steps)
    running = campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    stats = workflow_stats(campaign, steps) if running else {}
    editable = _editable(request, campaign)
    if editing is not None and form is None:
        form = StepForm(step=editing, steps=steps, tenant=request.tenant)
    if form is not None and "channel" in form.fields:
        # Another channel has other content fields: re-render the form for it.
        url = tenant_reverse(request.tenant, "campaigns:workflow_step", campaign.pk, editing.pk)
        form.fields["channel"].widget.attrs.update(
            {"hx-get": url, "hx-target": "#workflow", "hx-swap": "outerHTML", "hx-trigger": "change"})
    rows = [{
        "step": s, "label": step_label(s), "summary": _summary(s, steps), "links": _describe(s, steps),
        "errors": errors.get(s.pk, []), "stats": stats.get(s.pk),
        "form": form if editing is not None and s.pk == editing.pk else None,
    } for s in steps]
    trigger = CampaignTrigger.objects.filter(campaign=campaign).select_related("segment").first()
    if trigger_form is None:
        trigger_form = TriggerForm(instance=trigger or CampaignTrigger(campaign=campaign, tenant=request.tenant),
                                   tenant=request.tenant)
    return {
        "campaign": campaign, "rows": rows, "workflow_errors": errors.get(None, []), "editable": editable,
        "running": running, "trigger": trigger, "trigger_form": trigger_form, "kinds": StepKind.choices,
        "readiness": journey_readiness_errors(campaign) if campaign.status == CampaignStatus.DRAFT else [],
        "totals": journey_totals(campaign) if running else None, "step_count": len(steps),
    }


def _respond(request, campaign: Campaign, **extra):
    if request.htmx:
        return render(request, f"{PAGE}#workflow", _context(request, campaign, **extra))
    if extra.get("form") is not None or extra.get("trigger_form") is not None:
        return render(request, PAGE, _context(request, campaign, **extra), status=200)
    return redirect(tenant_reverse(request.tenant, "campaigns:workflow", campaign.pk))


@require_GET
@campaigns_required
def workflow_page(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    editing = None
    if request.GET.get("edit") and _editable(request, campaign):
        editing = WorkflowStep.objects.filter(campaign=campaign, pk=_uuid_or_none(request.GET["edit"])).first()
    return render(request, PAGE, _context(request, campaign, editing=editing))


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@require_POST
@campaigns_required
def trigger_update(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    _require_editable(request, campaign)
    instance = CampaignTrigger.objects.filter(campaign=campaign).first() or \
        CampaignTrigger(campaign=campaign, tenant=request.tenant)
    form = TriggerForm(request.POST, instance=instance, tenant=request.tenant)
    if not form.is_valid():
        return render(request, PAGE, _context(request, campaign, trigger_form=form))
    values = {name: form.cleaned_data.get(name) for name in TriggerForm.Meta.fields}
    values["event_filter"] = form.instance.event_filter
    trigger_save(campaign=campaign, values=values)
    messages.success(request, "Trigger saved.")
    return redirect(tenant_reverse(request.tenant, "campaigns:workflow", campaign.pk))


@require_POST
@campaigns_required
def step_create(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    _require_editable(request, campaign)
    kind = request.POST.get("kind", "")
    if kind not in StepKind.values:
        messages.error(request, "Choose what kind of step to add.")
        return _respond(request, campaign)
    try:
        step = wf.step_add(campaign=campaign, kind=kind)
    except wf.WorkflowFull as exc:
        messages.error(request, str(exc))
        return _respond(request, campaign)
    return _respond(request, campaign, editing=step) if request.htmx else \
        redirect(tenant_reverse(request.tenant, "campaigns:workflow", campaign.pk) + f"?edit={step.pk}#step-{step.pk}")


@require_http_methods(["GET", "POST"])
@campaigns_required
def step_edit(request, campaign_id, step_id):
    campaign = _campaign(request, campaign_id)
    step = get_object_or_404(WorkflowStep, tenant=request.tenant, campaign=campaign, pk=step_id)
    steps = wf.workflow_steps(campaign)
    if request.method == "GET":
        _require_editable(request, campaign)
        form = StepForm(step=step, steps=steps, tenant=request.tenant, channel=request.GET.get("channel"))
        if request.htmx:
            return render(request, f"{PAGE}#workflow", _context(request, campaign, editing=step, form=form))
        return render(request, PAGE, _context(request, campaign, editing=step, form=form))
    _require_editable(request, campaign)
    form = StepForm(request.POST, step=step, steps=steps, tenant=request.tenant, channel=request.POST.get("channel"))
    if not form.is_valid():
        return _respond(request, campaign, editing=step, form=form)
    wf.step_update(step=step, values=form.values)
    return _respond(request, campaign)


@require_POST
@campaigns_required
def step_delete(request, campaign_id, step_id):
    campaign = _campaign(request, campaign_id)
    _require_editable(request, campaign)
    step = get_object_or_404(WorkflowStep, tenant=request.tenant, campaign=campaign, pk=step_id)
    wf.step_remove(step=step)
    return _respond(request, campaign)


@require_POST
@campaigns_required
def step_move(request, campaign_id, step_id):
    campaign = _campaign(request, campaign_id)
    _require_editable(request, campaign)
    step = get_object_or_404(WorkflowStep, tenant=request.tenant, campaign=campaign, pk=step_id)
    wf.step_move(step=step, offset=-1 if request.POST.get("direction") == "up" else 1)
    return _respond(request, campaign)


@require_POST
@campaigns_required
def workflow_start(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    _require_editable(request, campaign)
    try:
        journey_campaign_launch(campaign=campaign)
    except CampaignNotReady as exc:
        for problem in exc.problems:
            messages.error(request, problem)
    except IllegalTransition as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{campaign.name}” is live: contacts enter as the trigger fires.")
    return redirect(tenant_reverse(request.tenant, "campaigns:workflow", campaign.pk))
