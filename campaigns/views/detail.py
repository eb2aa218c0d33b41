"""The campaign page: summary, live progress (polled until the run is final), per-channel results
with skip reasons, the members grid (keyset pages, CSV export) and lifecycle actions."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from campaigns import lifecycle, services
from campaigns.csvexport import csv_response
from campaigns.lifecycle import Action, IllegalTransition
from campaigns.models import Campaign, CampaignRun, CampaignStatus, DeliveryStatus
from campaigns.selectors import campaign_progress
from campaigns.selectors_grid import (
    MEMBER_CSV_HEADER,
    MemberFilters,
    audience_summary,
    channel_config_summary,
    content_previews,
    members_csv_rows,
    members_page,
    skip_reasons,
)
from campaigns.views.common import campaigns_required, edit_url
from tenants.models import CHANNEL_LABELS
from tenants.urls_helpers import tenant_reverse

S = CampaignStatus


def _campaign(request, campaign_id) -> Campaign:
    return get_object_or_404(Campaign, tenant=request.tenant, pk=campaign_id)


def _buttons(campaign: Campaign) -> dict[str, bool]:
    """Which actions the page offers; the services refuse anything else with a message anyway."""
    allowed = lifecycle.allowed_actions(campaign.status) if campaign.archived_at is None else set()
    return {
        "pause": Action.PAUSE in allowed,
        "resume": Action.RESUME in allowed,
        "cancel": Action.CANCEL in allowed,
        "retry": Action.RETRY_FAILED in allowed,
        "edit": campaign.archived_at is None and campaign.status in lifecycle.EDITABLE_STATUSES,
        "delete": campaign.archived_at is None and campaign.status in lifecycle.DELETABLE_STATUSES,
        "archive": campaign.archived_at is None and campaign.status in (S.COMPLETED, S.CANCELLED, S.FAILED),
    }


def _progress_context(request, campaign: Campaign) -> dict:
    """What the progress partial shows; it carries the action buttons so they follow the status."""
    progress = campaign_progress(campaign)
    buttons = _buttons(campaign)
    buttons["retry"] = buttons["retry"] and any(c.failed for c in progress.channels)
    return {
        "campaign": campaign,
        "progress": progress,
        "skips": skip_reasons(campaign=campaign, run=progress.run),
        "buttons": buttons,
        "can_edit": request.membership.can_edit,
        "edit_url": edit_url(request.tenant, campaign),
        # Poll only while a run is moving: drafts, scheduled-but-not-started, paused (resuming
        # reloads the page) and final runs don't.
        "polling": progress.run is not None and progress.run.status in CampaignRun.ACTIVE,
    }


def _members_context(request, campaign: Campaign) -> dict:
    filters = MemberFilters.from_query(request.GET)
    try:
        after = int(request.GET.get("after") or 0)
    except ValueError:
        after = 0
    rows, next_after = members_page(campaign=campaign, filters=filters, after=after)
    # Only the filters that are set travel on (load more, export), so an empty form exports everything.
    query = urlencode({k: v for k, v in asdict(filters).items() if v})
    return {"members": rows, "next_after": next_after, "member_filters": filters, "member_query": query,
            "delivery_statuses": DeliveryStatus.choices,
            "member_channels": [(c, CHANNEL_LABELS.get(c, c)) for c in campaign.channels]}


@require_GET
@campaigns_required
def campaign_detail(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    return render(request, "campaigns/campaign_detail.html", {
        **_progress_context(request, campaign),
        **_members_context(request, campaign),
        "audience": audience_summary(campaign),
        "configs": channel_config_summary(campaign),
        "contents": content_previews(campaign),
        "channel_badges": list(zip(campaign.channels, campaign.channel_labels, strict=False)),
        "budgets": list(campaign.budgets.all()),
    })


@require_GET
@campaigns_required
def campaign_progress_partial(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    context = _progress_context(request, campaign)
    response = render(request, "campaigns/campaign_detail.html#progress", context)
    if not context["polling"]:
        # 286 tells htmx to stop polling; the final figures in the body are still swapped in.
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
@campaigns_required
def campaign_members(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    if not request.htmx:
        detail = tenant_reverse(request.tenant, "campaigns:detail", campaign.pk)
        return redirect(f"{detail}?{request.GET.urlencode()}#members" if request.GET else detail)
    template = "campaigns/campaign_detail.html#member-rows" if request.GET.get("after") else \
        "campaigns/campaign_detail.html#members"
    return render(request, template, {"campaign": campaign, **_members_context(request, campaign)})


@require_GET
@campaigns_required
def campaign_members_export(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    filters = MemberFilters.from_query(request.GET)
    name = slugify(campaign.name)[:50] or "campaign"
    return csv_response(tenant=request.tenant, filename=f"{name}-members.csv", header=MEMBER_CSV_HEADER,
                        rows=lambda: members_csv_rows(campaign=campaign, filters=filters))


ACTIONS = ("pause", "resume", "cancel", "retry", "clone", "delete")


@require_POST
@campaigns_required
def campaign_action(request, campaign_id, action):
    if action not in ACTIONS:
        raise Http404("Unknown action")
    campaign = _campaign(request, campaign_id)
    detail = tenant_reverse(request.tenant, "campaigns:detail", campaign.pk)
    try:
        if action == "pause":
            services.campaign_pause(campaign=campaign)
            messages.success(request, f"“{campaign.name}” is paused. Messages already handed to providers still arrive.")
        elif action == "resume":
            services.campaign_resume(campaign=campaign)
            messages.success(request, f"“{campaign.name}” resumed where it stopped.")
        elif action == "cancel":
            services.campaign_cancel(campaign=campaign)
            messages.success(request, f"“{campaign.name}” is cancelled: nothing more will be sent.")
        elif action == "retry":
            n = services.campaign_retry_failed(campaign=campaign)
            messages.success(request, f"Retrying {n} failed deliver{'y' if n == 1 else 'ies'}.")
        elif action == "clone":
            copy = services.campaign_clone(campaign=campaign, actor=request.user)
            messages.success(request, f"Created “{copy.name}” as a draft.")
            return redirect(edit_url(request.tenant, copy))
        elif action == "delete":
            result = services.campaign_delete(campaign=campaign)
            if result == "deleted":
                messages.success(request, f"Deleted “{campaign.name}”.")
                return redirect(tenant_reverse(request.tenant, "campaigns:list"))
            messages.success(request, f"Archived “{campaign.name}”: its results stay available here.")
    except IllegalTransition as exc:
        messages.error(request, str(exc))
    return redirect(detail)
