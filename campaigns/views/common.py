from __future__ import annotations

from tenants.decorators import flag_required
from tenants.urls_helpers import tenant_reverse

# Every campaign page explains itself (no 500) when the tenant's campaigns flag is off.
campaigns_required = flag_required("campaigns_enabled", title="Campaigns")

# The wizard's first step (campaigns:edit takes the campaign and a step).
WIZARD_FIRST_STEP = "general"


def edit_url(tenant, campaign) -> str:
    """Where "Edit" goes: the wizard's first step."""
    return tenant_reverse(tenant, "campaigns:edit", campaign.pk, WIZARD_FIRST_STEP)
