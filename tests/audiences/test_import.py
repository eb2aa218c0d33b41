"""CSV import engine over the real Celery task body: the bad-input corpus, upserts, consent history,
idempotence, tags / lists and tenant isolation. Each import runs both appliers: the PostgreSQL
COPY + merge path and the ORM path used on SQLite."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audiences import importer
from audiences.importer import ImportFileError
from audiences.models import ConsentEvent, Contact, ContactList, ImportJob, Tag
from audiences.segments import compile_rules
from audiences.services_import import import_configure, import_rejections_csv, import_upload
from audiences.tasks import import_job_run_task
from tenants.scoping import tenant_scope


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(params=["postgresql", "postgresql-forked-parser", "orm"])
def engine(request, monkeypatch, settings):
    """Run each test over both appliers (the ORM one is what SQLite uses), and the PostgreSQL one
    also with the file parsed in a child process (what large files get)."""
    if request.param == "orm":
        monkeypatch.setattr(importer, "_use_copy", lambda: False)
    settings.IMPORT_PARSE_PROCESS_MIN_ROWS = 0 if request.param == "postgresql-forked-parser" else 10**9
    # Several merge connections need committed data: test_import_parallel.py covers them.
    settings.IMPORT_MERGE_CONNECTIONS = 1
    return request.param


def run_import(tenant, content: bytes | str, *, name: str = "contacts.csv", mapping: dict | None = None,
               match_on: str = "email", tag_names: tuple[str, ...] = (), new_list_name: str = "") -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    with tenant_scope(tenant):
        job = import_upload(tenant=tenant, upload=SimpleUploadedFile(name, data), user=None)
        import_configure(job=job, mapping={**job.mapping, **(mapping or {})}, match_on=match_on,
                         tag_names=list(tag_names), new_list_name=new_list_name)
    # The real task body, inside the tenant scope that TenantTask sets up.
    import_job_run_task.apply(args=[tenant.pk, str(job.pk)]).get()
    with tenant_scope(tenant):
        job.refresh_from_db()
    return job


def rejections(job: ImportJob) -> dict[int, str]:
    with tenant_scope(job.tenant_id):
        return dict(job.rejections.values_list("row_number", "reason"))


def contacts(tenant) -> dict[str, Contact]:
    with tenant_scope(tenant):
        return {c.email or c.phone: c for c in Contact.objects.filter(tenant=tenant).prefetch_related("tags")}


CORPUS = """first_name,last_name,email,phone,role,city
Asha,Rao,asha@example.com,98123 45678,customer,Pune
Bad,Email,not-an-email,,customer,Pune
Bad,Phone,bp@example.com,12345,customer,Pune
,,,,,
Dup,Later,ASHA@example.com,,customer,Delhi
No,Address,,,customer,Delhi
Short,Row,short@example.com
Bad,Role,br@example.com,,boss,Delhi
Ravi,Iyer,ravi@example.com,+1 415 555 0123,partner,Chennai
"""


def test_bad_rows_are_rejected_with_their_row_number_and_reason_and_the_rest_imported(tenant_a, engine):
    job = run_import(tenant_a, CORPUS)

    assert job.status == ImportJob.Status.COMPLETED
    assert (job.total_rows, job.processed_rows, job.created_count, job.rejected_count) == (9, 9, 2, 7)
    reasons = rejections(job)
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9}
    assert reasons[3].startswith("Bad email")
    assert reasons[4].startswith("Unparseable phone")
    assert reasons[5] == "Empty row"
    assert reasons[6] == "Duplicate of row 2 (same email asha@example.com)"
    assert reasons[7] == "No email and no phone"
    assert reasons[8] == "Wrong number of columns: 3 instead of 6"
    assert reasons[9].startswith("Bad role “boss”")
    people = contacts(tenant_a)
    assert people["asha@example.com"].phone == "+919812345678"  # tenant A's region is IN
    assert people["asha@example.com"].city == "Pune"  # the duplicate row did not overwrite it
    assert people["ravi@example.com"].phone == "+14155550123"
    assert people["ravi@example.com"].role == "partner"


def test_the_errors_report_has_every_rejected_row_and_neutralizes_formulas(tenant_a):
    job = run_import(tenant_a, "name,email\n=HYPERLINK(\"http://evil\"),bad@\n@SUM(1),\n")
    with tenant_scope(tenant_a):
        report = "".join(import_rejections_csv(job=job))
    rows = list(csv.reader(io.StringIO(report.lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Reason", "name", "email"]
    assert rows[1][0] == "2" and rows[1][1].startswith("Bad email")
    assert rows[1][2] == "'=HYPERLINK(\"http://evil\")"
    assert rows[2][:3] == ["3", "No email and no phone", "'@SUM(1)"]


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", b"\xef\xbb\xbf"), ("latin-1", b""), ("cp1252", b"")])
def test_encodings_are_detected(tenant_a, engine, encoding, bom):
    text = "Email,First name,City\njose@example.com,José,São Paulo\nzoe@example.com,Zoë,Köln\n"
    job = run_import(tenant_a, bom + text.encode(encoding))
    assert job.encoding == {"utf-8": "utf-8-sig", "latin-1": "cp1252", "cp1252": "cp1252"}[encoding]
    assert job.mapping["Email"] == "email"  # the BOM is not glued to the first header
    people = contacts(tenant_a)
    assert people["jose@example.com"].first_name == "José"
    assert people["zoe@example.com"].city == "Köln"


def test_plain_utf8_is_read_as_utf8(tenant_a):
    job = run_import(tenant_a, "email,first_name\nmei@example.com,美玲\n".encode())
    assert job.encoding == "utf-8"
    assert contacts(tenant_a)["mei@example.com"].first_name == "美玲"


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_semicolon_tab_and_comma_delimiters(tenant_a, engine, delimiter):
    lines = [["email", "phone", "city"], ["a@example.com", "9812345678", "Pune, West"], ["b@example.com", "", "Goa"]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(lines)
    job = run_import(tenant_a, buffer.getvalue())
    assert job.delimiter == delimiter
    assert job.created_count == 2
    assert contacts(tenant_a)["a@example.com"].city == "Pune, West"


def test_quoted_newlines_stay_inside_their_cell_and_row_numbers_count_records(tenant_a, engine):
    content = 'email,notes\nq@example.com,"line one\nline two"\nbad,x\n'
    job = run_import(tenant_a, content, mapping={"notes": "attr:notes"})
    assert contacts(tenant_a)["q@example.com"].attributes == {"notes": "line one\nline two"}
    assert rejections(job) == {3: "Bad email: “bad” is not a valid email address"}


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "This is a PNG image, not a CSV file."),
    (b"\x00\x01\x02binary\x00junk" * 50, "This is a binary file, not a CSV file."),
    (b"\n\n,,,\n", "The file has no header row."),
])
def test_a_file_that_is_not_csv_is_refused_and_nothing_is_created(tenant_a, content, message):
    with tenant_scope(tenant_a), pytest.raises(ImportFileError, match=message.split(",")[0]):
        import_upload(tenant=tenant_a, upload=SimpleUploadedFile("x.csv", content), user=None)
    with tenant_scope(tenant_a):
        assert not ImportJob.objects.exists()


def test_an_excel_workbook_gets_a_hint_to_export_csv(tenant_a):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with tenant_scope(tenant_a), pytest.raises(ImportFileError, match="Excel .xlsx"):
        import_upload(tenant=tenant_a, upload=SimpleUploadedFile("people.xlsx", buffer.getvalue()), user=None)


def test_running_the_same_file_again_changes_nothing(tenant_a, engine):
    content = ("email,phone,first_name,consent_email,tags,plan\n"
               "a@example.com,9812345678,Asha,yes,\"vip, pune\",gold\n"
               "b@example.com,,Bo,no,,silver\n")
    first = run_import(tenant_a, content, mapping={"plan": "attr:plan"}, tag_names=("webinar",),
                       new_list_name="March webinar")
    assert (first.created_count, first.updated_count, first.unchanged_count) == (2, 0, 0)
    with tenant_scope(tenant_a):
        stamps = dict(Contact.objects.values_list("email", "updated_at"))
        events = ConsentEvent.objects.count()
    second = run_import(tenant_a, content, mapping={"plan": "attr:plan"}, tag_names=("webinar",),
                        new_list_name="March webinar")
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 2)
    with tenant_scope(tenant_a):
        assert dict(Contact.objects.values_list("email", "updated_at")) == stamps
        assert ConsentEvent.objects.count() == events == 2
        asha = Contact.objects.get(email="a@example.com")
        assert sorted(asha.tags.values_list("name", flat=True)) == ["pune", "vip", "webinar"]
        assert asha.attributes == {"plan": "gold"}
        assert list(ContactList.objects.get(name="March webinar").contacts.order_by("email")
                    .values_list("email", flat=True)) == ["a@example.com", "b@example.com"]


def test_consent_history_is_written_only_when_the_state_changes(tenant_a, engine):
    run_import(tenant_a, "email,sms\nc@example.com,yes\n", mapping={"sms": "consent:sms"})
    run_import(tenant_a, "email,sms\nc@example.com,true\n", mapping={"sms": "consent:sms"})
    last = run_import(tenant_a, "email,sms\nx@example.com,\nc@example.com,opted_out\n", mapping={"sms": "consent:sms"})
    assert (last.created_count, last.updated_count) == (1, 1)
    with tenant_scope(tenant_a):
        contact = Contact.objects.get(email="c@example.com")
        assert contact.consent_sms == "opted_out"
        history = list(contact.consent_events.order_by("id").values_list("previous_state", "state", "source"))
        assert history == [("unknown", "opted_in", "import"), ("opted_in", "opted_out", "import")]
        assert contact.consent_events.order_by("id").last().evidence == {"import_job": str(last.pk), "row": 3}
        # An empty consent cell is no statement at all.
        assert Contact.objects.get(email="x@example.com").consent_sms == "unknown"
        assert not ConsentEvent.objects.filter(contact__email="x@example.com").exists()


def test_a_bad_consent_value_rejects_the_row(tenant_a):
    job = run_import(tenant_a, "email,whatsapp\nd@example.com,maybe\n", mapping={"whatsapp": "consent:whatsapp"})
    assert rejections(job) == {2: "Bad WhatsApp consent “maybe”: use yes / no (or opted_in / opted_out)"}


def test_upsert_by_phone_updates_the_contact_with_that_number(tenant_a, engine):
    with tenant_scope(tenant_a):
        existing = Contact.objects.create(tenant=tenant_a, phone="+919812345678", first_name="Old")
    job = run_import(tenant_a, "mobile,name,email\n098123 45678,New,new@example.com\n9876543210,Second,\n",
                     match_on="phone")
    assert (job.created_count, job.updated_count, job.unchanged_count) == (1, 1, 0)
    existing.refresh_from_db()
    assert (existing.first_name, existing.email) == ("New", "new@example.com")


def test_empty_cells_never_erase_what_a_contact_has(tenant_a, engine):
    with tenant_scope(tenant_a):
        Contact.objects.create(tenant=tenant_a, email="e@example.com", city="Pune", attributes={"plan": "gold"})
    job = run_import(tenant_a, "email,city,tier\ne@example.com,,3\n", mapping={"tier": "attr:tier"})
    assert job.updated_count == 1
    contact = contacts(tenant_a)["e@example.com"]
    assert contact.city == "Pune"
    assert contact.attributes == {"plan": "gold", "tier": 3}


def test_numbers_in_attribute_columns_are_stored_as_numbers_for_numeric_rules(tenant_a, engine):
    content = ("email,ltv\na@example.com,4000\nb@example.com,12.50\nc@example.com,007\n"
               "d@example.com,5e3\ne@example.com,pro\nf@example.com,-3\ng@example.com," + "9" * 5000 + "\n")
    job = run_import(tenant_a, content, mapping={"ltv": "attr:ltv"})
    assert job.created_count == 7
    stored = {email: contact.attributes["ltv"] for email, contact in contacts(tenant_a).items()}
    assert stored == {"a@example.com": 4000, "b@example.com": 12.5, "c@example.com": "007",
                      "d@example.com": "5e3", "e@example.com": "pro", "f@example.com": -3,
                      "g@example.com": "9" * 5000}
    with tenant_scope(tenant_a):
        rich = Contact.objects.filter(compile_rules(
            {"rules": [{"field": "attribute", "op": "gte", "key": "ltv", "value": 12}]}))
        assert sorted(c.email for c in rich) == ["a@example.com", "b@example.com"]


def test_an_address_owned_by_another_contact_rejects_the_row(tenant_a, engine):
    with tenant_scope(tenant_a):
        Contact.objects.create(tenant=tenant_a, email="owner@example.com", phone="+919812345678")
    job = run_import(tenant_a, "email,phone\nnew@example.com,9812345678\nok@example.com,9812345679\n")
    assert rejections(job) == {2: "The phone +919812345678 belongs to another contact"}
    assert job.created_count == 1


def test_a_phone_repeated_under_another_email_is_rejected_as_used_by_the_earlier_row(tenant_a, engine):
    job = run_import(tenant_a, "email,phone\na@example.com,9812345678\nb@example.com,+91 98123 45678\n")
    assert rejections(job) == {3: "The phone +919812345678 is already used by row 2"}


def test_duplicates_are_found_across_chunks_and_progress_counts_every_row(tenant_a, engine, settings):
    settings.IMPORT_CHUNK_ROWS = 100
    lines = ["email"] + [f"user{i}@example.com" for i in range(250)] + ["user5@example.com"]
    job = run_import(tenant_a, "\n".join(lines) + "\n")
    assert (job.total_rows, job.processed_rows, job.created_count, job.rejected_count) == (251, 251, 250, 1)
    assert rejections(job) == {252: "Duplicate of row 7 (same email user5@example.com)"}
    assert job.percent == 100


def test_a_file_over_the_row_limit_fails_with_a_clear_message(tenant_a, settings):
    settings.IMPORT_MAX_ROWS = 2
    job = run_import(tenant_a, "email\na@example.com\nb@example.com\nc@example.com\n")
    assert job.status == ImportJob.Status.FAILED
    assert job.error_message == "The file has 3 rows; an import takes at most 2."
    with tenant_scope(tenant_a):
        assert not Contact.objects.exists()


def test_importing_in_one_tenant_never_touches_another_tenants_contact(tenant_a, tenant_b, engine):
    with tenant_scope(tenant_b):
        theirs = Contact.objects.create(tenant=tenant_b, email="shared@example.com", first_name="B's",
                                        consent_email="opted_out")
    job = run_import(tenant_a, "email,first_name,consent_email\nshared@example.com,A's,yes\n")
    assert job.created_count == 1
    theirs.refresh_from_db()
    assert (theirs.first_name, theirs.consent_email) == ("B's", "opted_out")
    with tenant_scope(tenant_b):
        assert not ConsentEvent.objects.filter(contact=theirs).exists()
        assert Tag.objects.count() == 0
    assert contacts(tenant_a)["shared@example.com"].first_name == "A's"


def test_the_task_leaves_a_finished_job_alone(tenant_a):
    job = run_import(tenant_a, "email\na@example.com\n")
    with tenant_scope(tenant_a):
        Contact.objects.all().delete()
    import_job_run_task.apply(args=[tenant_a.pk, str(job.pk)]).get()
    with tenant_scope(tenant_a):
        assert not Contact.objects.exists()


def test_tag_names_from_the_file_reuse_existing_tags_whatever_their_case(tenant_a, engine):
    with tenant_scope(tenant_a):
        vip = Tag.objects.create(tenant=tenant_a, name="VIP")
    run_import(tenant_a, "email,tags\nt@example.com,\"vip,New one\"\n")
    with tenant_scope(tenant_a):
        assert sorted(Tag.objects.values_list("name", flat=True)) == ["New one", "VIP"]
        assert vip.contacts.filter(email="t@example.com").exists()


# The PostgreSQL merge's race only (the ORM applier takes each row's contact as it goes).
@pytest.mark.parametrize("engine", ["postgresql", "postgresql-forked-parser"], indirect=True)
def test_a_contact_saved_between_the_lookup_and_the_insert_rejects_only_that_row(tenant_a, engine):
    from django.db import connection

    def save_first(execute, sql, params, many, context):
        # Someone saves asha@example.com after the import looked its addresses up.
        if sql.lstrip().startswith("INSERT INTO audiences_contact ("):
            with tenant_scope(tenant_a):
                Contact.objects.get_or_create(tenant=tenant_a, email="asha@example.com",
                                              defaults={"first_name": "Saved meanwhile"})
        return execute(sql, params, many, context)

    with connection.execute_wrapper(save_first):
        job = run_import(tenant_a, "first_name,email\nAsha,asha@example.com\nRavi,ravi@example.com\n")

    assert (job.created_count, job.rejected_count) == (1, 1)
    assert "saved at the same moment" in rejections(job)[2]
    people = contacts(tenant_a)
    assert people["asha@example.com"].first_name == "Saved meanwhile"
    assert people["ravi@example.com"].first_name == "Ravi"
