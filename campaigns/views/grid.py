from django.shortcuts import render
from django.views.decorators.http import require_GET

from campaigns.views.common import campaigns_required


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
