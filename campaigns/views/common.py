from __future__ import annotations

from django.urls import NoReverseMatch

from tenants.decorators import flag_required
from tenants.urls_helpers import tenant_reverse

# Every campaign page explains itself (no 500) when the tenant's campaigns flag is off.
campaigns_required = flag_required("campaigns_enabled", title="Campaigns")

# The wizard's first step; its URL module is built separately (campaigns:new / campaigns:edit).
WIZARD_FIRST_STEP = "general"


def optional_url(tenant, view_name: str, *args) -> str | None:
    """The URL, or None while the view it names is not installed (the wizard ships on its own)."""
    try:
        return tenant_reverse(tenant, view_name, *args)
    except NoReverseMatch:
        return None


def edit_url(tenant, campaign) -> str:
    """Where "Edit" goes: the wizard when it is installed, else the campaign page."""
    return (optional_url(tenant, "campaigns:edit", campaign.pk, WIZARD_FIRST_STEP)
            or tenant_reverse(tenant, "campaigns:detail", campaign.pk))
