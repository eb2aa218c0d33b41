"""Walkthrough: a marketer builds a segment and watches the audience preview follow each rule."""

from __future__ import annotations

from playwright.sync_api import expect

from audiences.models import ConsentState, Contact, Segment
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import htmx_settled, login


def test_the_segment_preview_count_follows_the_rules_as_they_are_added(page, tenant_a, marketer):
    with tenant_scope(tenant_a):
        Contact.objects.bulk_create(
            [Contact(tenant=tenant_a, first_name=f"Pune{n}", email=f"pune{n}@example.com", city="Pune",
                     consent_email=ConsentState.OPTED_OUT if n < 3 else ConsentState.OPTED_IN) for n in range(10)]
            + [Contact(tenant=tenant_a, first_name=f"Mumbai{n}", email=f"mumbai{n}@example.com", city="Mumbai",
                       consent_email=ConsentState.OPTED_IN) for n in range(6)])

    login(page, marketer.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/audiences/segments/")
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name").fill("Pune, email opted in")
    total = page.get_by_test_id("preview-total")
    expect(total).to_have_text("16")  # no rules yet: everyone

    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_label("Filter")).to_have_value("city")  # a new rule starts as "City is any of"
    htmx_settled(page)
    page.get_by_label("Cities, comma-separated").fill("Pune")
    expect(total).to_have_text("10")
    expect(page.get_by_test_id("reach-email")).to_have_text("7")  # three of them opted out of email

    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_label("Filter")).to_have_count(2)
    htmx_settled(page)
    page.get_by_label("Filter").last.select_option(label="Consent")  # defaults to "email is opted in"
    expect(page.get_by_label("Channel")).to_have_value("email")
    expect(total).to_have_text("7")

    page.get_by_label("Match all or any rules").select_option("any")
    expect(total).to_have_text("16")  # in Pune or opted in to email: everyone
    page.get_by_label("Match all or any rules").select_option("all")
    expect(total).to_have_text("7")

    page.get_by_role("button", name="Save segment").click()
    row = page.get_by_role("row").filter(has_text="Pune, email opted in")
    expect(row.get_by_role("cell").nth(2)).to_have_text("7")
    with tenant_scope(tenant_a):
        segment = Segment.objects.get(tenant=tenant_a)
        assert [r["field"] for r in segment.rules["rules"]] == ["city", "consent"]
