"""Walkthrough: an admin connects a Facebook Page and tests the connection against the fake Graph API."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from social_accounts.models import SocialAccount
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import login


def test_an_admin_connects_a_social_account_and_tests_it(page, tenant_a, owner, fake):
    login(page, owner.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/social/")
    page.get_by_role("link", name="Connect account").first.click()
    page.get_by_label("Platform").select_option(label="Facebook")
    page.get_by_label("Handle").fill("@acmeretail")
    page.get_by_label("Account ID").fill("104857600")
    page.get_by_label("Access token").fill("fb-e2e-page-token")
    page.get_by_role("button", name="Connect and test").click()

    # Connecting tests the token at once: the page asks the platform who it is.
    expect(page.get_by_role("heading", name="Facebook @acmeretail")).to_be_visible()
    status = page.get_by_test_id("social-status")
    expect(status).to_contain_text("Connected")
    expect(status).to_contain_text("Connected as Fake Page.")
    lookups = fake.received("facebook", kind="node", node="104857600")
    assert len(lookups) == 1
    assert lookups[0]["authorization"] == "Bearer fb-e2e-page-token"
    with tenant_scope(tenant_a):
        account = SocialAccount.objects.get(tenant=tenant_a)
        assert "fb-e2e-page-token" not in str(account.__dict__)  # stored encrypted, never in clear

    with page.expect_response(lambda r: r.url.endswith("/test/") and r.ok):
        page.get_by_role("button", name="Test connection").click()
    expect(status).to_contain_text("Connected as Fake Page.")  # re-rendered in place by htmx
    assert len(fake.received("facebook", kind="node", node="104857600")) == 2

    # The platform revokes the token: the next test says so instead of "connected".
    httpx.post(f"{fake.url}/facebook/_fault", json={"status": 400, "code": 190, "message": "Error validating "
               "access token: The session has been invalidated because the user changed their password."},
               timeout=10).raise_for_status()
    page.get_by_role("button", name="Test connection").click()
    expect(status).to_contain_text("Disconnected")
    expect(status).to_contain_text("The session has been invalidated")
    page.goto(f"/t/{tenant_a.slug}/social/")
    expect(page.get_by_role("row").filter(has_text="@acmeretail")).to_contain_text("Disconnected")
