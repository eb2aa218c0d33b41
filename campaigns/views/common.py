from tenants.decorators import flag_required

# Every campaign page explains itself (no 500) when the tenant's campaigns flag is off.
campaigns_required = flag_required("campaigns_enabled", title="Campaigns")
