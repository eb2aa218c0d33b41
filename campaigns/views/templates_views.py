"""Message templates page: WhatsApp templates (CRUD, approval) and starter campaign templates."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.forms_templates import MessageTemplateForm
from campaigns.models import MessageTemplate, TemplateStatus
from campaigns.selectors_templates import templates_for_page
from campaigns.services_templates import (
    TemplateActionRefused,
    template_approval_supported,
    template_config,
    template_delete,
    template_mark_edited,
    template_review,
    template_submit,
    template_sync,
)
from campaigns.starters import STARTERS, campaign_from_starter, starter_list
from campaigns.views.common import campaigns_required, edit_url
from channels.selectors import channel_config_for
from tenants.decorators import role_required
from tenants.models import Role
from tenants.urls_helpers import tenant_reverse


def _templates_url(request) -> str:
    return tenant_reverse(request.tenant, "campaigns:templates")


@require_GET
@campaigns_required
def template_list(request):
    templates = list(templates_for_page(request.tenant))
    # The manual review is offered when the workspace's WhatsApp goes through the Sandbox.
    config = channel_config_for(tenant=request.tenant, channel="whatsapp")
    sandbox = config is not None and config.provider == "sandbox"
    for t in templates:
        # Which account reviews it, and whether its provider reports the review (Sync status).
        t.review_config = template_config(t)
        t.provider_review = template_approval_supported(t.review_config)
    return render(request, "campaigns/templates.html", {
        "templates": templates,
        "starters": starter_list(),
        "can_edit": request.membership.can_edit,
        "can_review": sandbox and request.membership.is_admin,
        "sandbox": sandbox,
        "whatsapp_enabled": request.tenant.channel_enabled("whatsapp"),
    })


def _form_page(request, form, template=None):
    return render(request, "campaigns/template_form.html", {"form": form, "template": template})


@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def template_new(request):
    form = MessageTemplateForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        template = form.save()
        messages.success(request, f"Saved “{template.name}” as a draft. Submit it for approval before using it.")
        return redirect(_templates_url(request))
    return _form_page(request, form)


@require_http_methods(["GET", "POST"])
@campaigns_required
@role_required(Role.MARKETER)
def template_edit(request, template_id):
    template = get_object_or_404(MessageTemplate, tenant=request.tenant, pk=template_id)
    form = MessageTemplateForm(request.POST or None, instance=template, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        was_approved = template.status == TemplateStatus.APPROVED
        try:
            if form.has_changed():
                template_mark_edited(template=form.instance)
        except TemplateActionRefused as exc:
            form.add_error(None, str(exc))
            return _form_page(request, form, template)
        template = form.save()
        note = " It needs a new approval before campaigns can use it." if was_approved and form.has_changed() else ""
        messages.success(request, f"Saved “{template.name}”.{note}")
        return redirect(_templates_url(request))
    return _form_page(request, form, template)


def _template_action(request, template_id, action) -> None:
    template = get_object_or_404(MessageTemplate, tenant=request.tenant, pk=template_id)
    try:
        message = action(template)
    except TemplateActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message)


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def template_delete_view(request, template_id):
    def act(template):
        template_delete(template=template)
        return f"Deleted “{template.name}”."

    _template_action(request, template_id, act)
    return redirect(_templates_url(request))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def template_submit_view(request, template_id):
    def act(template):
        template = template_submit(template=template)
        return f"“{template.name}” is submitted for approval."

    _template_action(request, template_id, act)
    return redirect(_templates_url(request))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def template_sync_view(request, template_id):
    def act(template):
        template = template_sync(template=template)
        return f"“{template.name}” is {template.get_status_display().lower()}."

    _template_action(request, template_id, act)
    return redirect(_templates_url(request))


@require_POST
@campaigns_required
@role_required(Role.ADMIN)
def template_review_view(request, template_id):
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        raise Http404("Unknown decision")

    def act(template):
        template = template_review(template=template, approved=decision == "approve",
                                   reason=request.POST.get("reason", ""))
        return f"Sandbox review recorded: “{template.name}” is {template.get_status_display().lower()}."

    _template_action(request, template_id, act)
    return redirect(_templates_url(request))


@require_POST
@campaigns_required
@role_required(Role.MARKETER)
def starter_use(request, key):
    if key not in STARTERS:
        raise Http404("Unknown starter")
    campaign = campaign_from_starter(tenant=request.tenant, actor=request.user, key=key)
    messages.success(request, f"Created the draft “{campaign.name}” from the starter. Adjust it and choose an audience.")
    return redirect(edit_url(request.tenant, campaign))
