"""Dashboard, campaign reports, exports and the operations view (all inside the tenant)."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics import exports, selectors
from campaigns.models import Campaign
from tenants.decorators import role_required
from tenants.models import Role
from tenants.scoping import scopes_disabled, tenant_scope


def _days(request) -> int:
    try:
        days = int(request.GET.get("days", selectors.DEFAULT_RANGE))
    except ValueError:
        return selectors.DEFAULT_RANGE
    return days if days in selectors.RANGES else selectors.DEFAULT_RANGE


@require_GET
def dashboard(request):
    data = selectors.dashboard_data(tenant=request.tenant, days=_days(request))
    return render(request, "analytics/dashboard.html", {
        "data": data, "ranges": selectors.RANGES, "charts": data.charts,
        "recent": selectors.recent_campaigns(tenant=request.tenant),
    })


@require_GET
def dashboard_data(request):
    """The dashboard's chart data for another range (the range buttons fetch it)."""
    return JsonResponse(selectors.dashboard_data(tenant=request.tenant, days=_days(request)).charts)


def _campaign(request, campaign_id) -> Campaign:
    return get_object_or_404(Campaign, tenant=request.tenant, pk=campaign_id)


@require_GET
def campaign_report(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    rows, total = selectors.report_rows(campaign=campaign)
    return render(request, "analytics/campaign_report.html", {
        "campaign": campaign, "rows": rows, "total": total, "metrics": selectors.METRICS,
        "statuses": selectors.status_table(campaign=campaign),
        "failures": selectors.failure_groups(campaign=campaign),
        "response_time": selectors.average_response_time(campaign=campaign),
        "steps": selectors.step_rows(campaign=campaign),
        "currency": campaign.currency or request.tenant.currency,
    })


@require_GET
def campaign_events(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    return JsonResponse(selectors.events_over_time(campaign=campaign, tenant=request.tenant))


def _in_scope(tenant_id: int, rows: Iterator[list]) -> Iterator[list]:
    # A streamed body is read after the view (and the middleware's tenant scope) has returned.
    with tenant_scope(tenant_id):
        yield from rows


@require_GET
def campaign_report_csv(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    return exports.stream_csv(_in_scope(request.tenant.pk, exports.report_csv_rows(campaign=campaign)),
                              filename=exports.export_filename(campaign, "report"))


@require_GET
def campaign_members_csv(request, campaign_id):
    campaign = _campaign(request, campaign_id)
    return exports.stream_csv(_in_scope(request.tenant.pk, exports.members_csv_rows(campaign=campaign)),
                              filename=exports.export_filename(campaign, "members"))


def _operations_context(tenant) -> dict:
    return {
        "queue": selectors.queue_depth(),
        "rates": selectors.send_rates(tenant=tenant),
        "errors": selectors.provider_error_rates(tenant=tenant),
        "stuck": selectors.stuck_runs(tenant=tenant),
        "configs": selectors.provider_health(tenant=tenant),
        "now": timezone.now(),
    }


@require_GET
@role_required(Role.ADMIN)
def operations(request):
    template = "analytics/operations.html#panel" if request.htmx else "analytics/operations.html"
    return render(request, template, _operations_context(request.tenant))


@require_GET
@login_required
def operations_deployment(request):
    """/ops/: the same figures across every tenant, for system administrators (superusers)."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only system administrators see the whole deployment.")
    with scopes_disabled():  # deliberately cross-tenant, like Django admin
        context = _operations_context(None)
    template = "analytics/ops_deployment.html#panel" if request.htmx else "analytics/ops_deployment.html"
    return render(request, template, context)
