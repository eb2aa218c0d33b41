"""Walkthrough: a marketer imports a CSV with some bad rows, maps its columns, watches the job
finish through the workers and downloads the errors report."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from audiences.models import ConsentState, Contact
from tenants.scoping import tenant_scope
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

# Row numbers count the header as row 1, as in a spreadsheet.
CSV_TEXT = (
    "Email,First name,Phone,Locality,Plan,SMS ok\n"
    "asha@example.com,Asha,+91 98765 43210,Pune,gold,yes\n"        # row 2: imported
    "not-an-email,Ravi,,Mumbai,silver,yes\n"                         # row 3: bad email
    ",Meera,,Delhi,gold,no\n"                                        # row 4: no address at all
    "asha@example.com,Asha again,,Pune,gold,yes\n"                   # row 5: duplicate of row 2
    "kiran@example.com,Kiran,+91 98123 45678,Chennai,gold,maybe\n"   # row 6: bad consent value
    "dev@example.com,Dev,,Kochi,bronze,no\n"                         # row 7: imported
)


def test_a_csv_with_bad_rows_imports_the_good_ones_and_reports_the_rest(page, tenant_a, marketer):
    login(page, marketer.username, PASSWORD)
    page.goto(f"/t/{tenant_a.slug}/audiences/imports/new/")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "webinar-leads.csv", "mimeType": "text/csv", "buffer": CSV_TEXT.encode()}])
    page.get_by_role("button", name="Upload and map columns").click()

    # Mapping step: the obvious headers are guessed, the rest is the marketer's choice.
    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("Field for column Email")).to_have_value("email")
    page.get_by_label("Field for column Locality").select_option(label="City")
    page.get_by_label("Field for column Plan").select_option(label="Custom attribute “plan”")
    page.get_by_label("Field for column SMS ok").select_option(label="Consent: SMS")
    page.get_by_label("Add tags to every imported contact").fill("webinar-2026")
    page.get_by_role("button", name="Start import").click()

    # Progress: the page polls until the worker has finished the job.
    expect(page.get_by_test_id("import-status")).to_have_text("Completed with errors", timeout=30_000)
    expect(page.get_by_test_id("import-rows")).to_contain_text("6 of 6 rows")
    expect(page.get_by_test_id("import-created")).to_have_text("2")
    expect(page.get_by_test_id("import-rejected")).to_have_text("4")
    rejections = page.get_by_test_id("import-rejections")
    expect(rejections.get_by_role("row")).to_have_count(5)  # header + 4 rejected rows
    expect(rejections.get_by_role("row").filter(has_text="Duplicate of row 2")).to_contain_text("5")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download errors report (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "webinar-leads-errors.csv"
    report = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert report[0] == ["Row", "Reason", "Email", "First name", "Phone", "Locality", "Plan", "SMS ok"]
    reasons = {row[0]: row[1] for row in report[1:]}
    assert sorted(reasons) == ["3", "4", "5", "6"]
    assert reasons["3"].startswith("Bad email")
    assert reasons["4"] == "No email and no phone"
    assert reasons["5"].startswith("Duplicate of row 2")
    assert reasons["6"].startswith("Bad SMS consent “maybe”")
    # Each rejected row comes back as it was in the file, ready to be fixed and imported again.
    assert [row[2:] for row in report[1:] if row[0] == "3"] == [["not-an-email", "Ravi", "", "Mumbai", "silver", "yes"]]

    with tenant_scope(tenant_a):
        asha = Contact.objects.get(tenant=tenant_a, email="asha@example.com")
        assert (asha.first_name, asha.city, asha.phone) == ("Asha", "Pune", "+919876543210")
        assert asha.attributes.get("plan") == "gold"
        assert asha.consent_sms == ConsentState.OPTED_IN
        assert list(asha.tags.values_list("name", flat=True)) == ["webinar-2026"]
        assert set(Contact.objects.filter(tenant=tenant_a).values_list("email", flat=True)) == {
            "asha@example.com", "dev@example.com"}
