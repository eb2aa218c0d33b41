"""The campaign grid: filters, search, sort, star, pagination, bulk actions and CSV export."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from campaigns.ai_replies.services import TRAINING_ACTIONS, campaigns_training_set
from campaigns.csvexport import csv_response
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.selectors_grid import (
    ARCHIVED,
    SORTS,
    GridFilters,
    audience_summary,
    campaign_grid,
    campaigns_selected,
    channel_config_summary,
    with_grid_relations,
)
from campaigns.services_grid import BULK_ACTIONS, campaign_star_set, campaigns_bulk_action
from campaigns.views.common import campaigns_required
from tenants.models import CHANNEL_LABELS
from tenants.urls_helpers import tenant_reverse

PAGE_SIZE = 25


def _row(campaign: Campaign) -> dict:
    # The target is who the campaign could reach: skipped recipients (no consent, no address,
    # suppressed) are reported beside it, not counted as unsent.
    sent, skipped = campaign.progress_sent, campaign.progress_skipped
    target = campaign.progress_targeted - skipped
    configs = channel_config_summary(campaign)
    return {
        "campaign": campaign,
        "audience": audience_summary(campaign),
        "configs": configs,
        "all_default": all(name == "Default" for _label, name in configs),
        "channels": list(zip(campaign.channels, campaign.channel_labels, strict=False)),
        "sent": sent, "target": target, "skipped": skipped, "started": campaign.progress_targeted > 0,
        "percent": min(100, round(100 * sent / target)) if target > 0 else 0,
    }


@require_GET
@campaigns_required
def campaign_list(request):
    filters = GridFilters.from_query(request.GET)
    qs = with_grid_relations(campaign_grid(tenant=request.tenant, filters=filters))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    has_any = filters.active or Campaign.objects.filter(tenant=request.tenant).exists()
    return render(request, "campaigns/campaign_list.html", {
        "rows": [_row(c) for c in page.object_list],
        "page": page,
        "filters": filters,
        "has_any": has_any,
        "query": query.urlencode(),
        "sorts": [(key, label) for key, (label, _order) in SORTS.items()],
        "types": CampaignType.choices,
        "statuses": [*CampaignStatus.choices, (ARCHIVED, "Archived")],
        "channels": [(key, CHANNEL_LABELS[key]) for key in request.tenant.enabled_channels],
        "can_edit": request.membership.can_edit,
        "new_url": tenant_reverse(request.tenant, "campaigns:new"),
    })


@require_POST
@campaigns_required
def campaign_star(request, campaign_id):
    campaign = get_object_or_404(Campaign, tenant=request.tenant, pk=campaign_id)
    campaign_star_set(campaign=campaign, starred=request.POST.get("starred") == "1")
    if request.htmx:
        return render(request, "campaigns/campaign_list.html#star", {"c": campaign, "can_edit": True})
    return redirect(_back_to_list(request))


def _back_to_list(request) -> str:
    url = tenant_reverse(request.tenant, "campaigns:list")
    query = request.POST.get("query", "")
    # Only a query string is carried back, never a full URL (no open redirect).
    return f"{url}?{query}" if query and "//" not in query else url


GRID_CSV_HEADER = ("Name", "Type", "Purpose", "Channels", "Status", "Audience", "Sent", "Target", "Skipped", "Progress %",
                   "Scheduled at", "Created", "Starred")


def _grid_csv(request, campaigns) -> StreamingHttpResponse:
    def rows():
        for c in campaigns:
            row = _row(c)
            yield [c.name, c.get_type_display(), c.get_purpose_display(), ", ".join(c.channel_labels),
                   "Archived" if c.archived_at else c.get_status_display(), row["audience"], row["sent"],
                   row["target"], row["skipped"], row["percent"], c.scheduled_at.isoformat() if c.scheduled_at else "",
                   c.created_at.isoformat(), "yes" if c.starred else ""]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(tenant=request.tenant, filename=f"campaigns-{stamp}.csv", header=GRID_CSV_HEADER, rows=rows)


@require_GET
@campaigns_required
def campaign_export(request):
    """Every campaign the current filters match (the grid's own query, without paging)."""
    filters = GridFilters.from_query(request.GET)
    return _grid_csv(request, with_grid_relations(campaign_grid(tenant=request.tenant, filters=filters)))


@require_POST
@campaigns_required
def campaign_bulk(request):
    ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    if not ids:
        messages.warning(request, "Select at least one campaign first.")
        return redirect(_back_to_list(request))
    if not action:
        messages.warning(request, "Choose what to do with the selected campaigns.")
        return redirect(_back_to_list(request))
    if not _valid_uuids(ids):
        return HttpResponseBadRequest("Bad campaign id.")
    if action == "export":
        return _grid_csv(request, with_grid_relations(campaigns_selected(tenant=request.tenant, ids=ids)))
    if action in TRAINING_ACTIONS:
        # "Update training status" (AI auto-replies): its own service, which refuses campaigns with
        # neither a trigger nor an instruction.
        outcome = campaigns_training_set(tenant=request.tenant, ids=ids, action=action)
    elif action not in BULK_ACTIONS:
        return HttpResponseBadRequest("Unknown bulk action.")
    else:
        outcome = campaigns_bulk_action(tenant=request.tenant, actor=request.user, ids=ids, action=action)
    if outcome.done:
        messages.success(request, f"{len(outcome.done)} done: " + "; ".join(outcome.done) + ".")
    for reason in outcome.refused:
        messages.error(request, reason)
    return redirect(_back_to_list(request))


def _valid_uuids(values: list[str]) -> bool:
    try:
        [uuid.UUID(v) for v in values]
    except ValueError:
        return False
    return True
