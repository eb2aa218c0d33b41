from django.shortcuts import render
from django.views.decorators.http import require_GET

from tenants.decorators import flag_required

campaigns_required = flag_required("campaigns_enabled", title="Campaigns")


@require_GET
@campaigns_required
def campaign_list(request):
    return render(request, "campaigns/campaign_list.html")


@require_GET
@campaigns_required
def template_list(request):
    return render(
        request,
        "section_pending.html",
        {"section": "Templates", "description": "WhatsApp message templates and starter campaign templates"},
    )
