"""System admin pages for campaigns, templates and runs load across tenants and keep status read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import RunStatus
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import campaign, run, template


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345-secure")
    client.force_login(user)
    return client


def test_admin_lists_and_opens_campaigns_templates_and_runs(admin_client, tenant_a, tenant_b):
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, "Admin visible", status="active")
        r = run(c, status=RunStatus.SENDING, counters={"sms": {"targeted": 3, "sent": 2}})
        t = template(tenant_a, "admin_template")
    with tenant_scope(tenant_b):
        campaign(tenant_b, "Other tenant campaign")
    listing = admin_client.get("/admin/campaigns/campaign/").content.decode()
    assert "Admin visible" in listing and "Other tenant campaign" in listing
    page = admin_client.get(f"/admin/campaigns/campaign/{c.pk}/change/")
    assert page.status_code == 200
    # Status is shown, never editable: it only moves through the lifecycle.
    assert 'name="status"' not in page.content.decode()
    assert admin_client.get(f"/admin/campaigns/messagetemplate/{t.pk}/change/").status_code == 200
    run_page = admin_client.get(f"/admin/campaigns/campaignrun/{r.pk}/change/")
    assert run_page.status_code == 200 and "targeted" in run_page.content.decode().lower()
