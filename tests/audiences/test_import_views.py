"""Import pages: upload, mapping, progress polling, errors download, list; roles and tenant isolation."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audiences.models import Contact, ContactList, ImportJob
from audiences.tasks import import_job_run_task
from tenants.scoping import tenant_scope
from tenants.urls_helpers import tenant_reverse

CSV = b"Full name,E-mail,Mobile,Plan,SMS consent\nAsha,asha@example.com,9812345678,gold,yes\nBo,bad,,silver,no\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def url(tenant, name, *args):
    return tenant_reverse(tenant, f"audiences:{name}", *args)


def upload(client, tenant, content: bytes = CSV, name: str = "people.csv"):
    return client.post(url(tenant, "import_new"), {"file": SimpleUploadedFile(name, content)})


def only_job(tenant) -> ImportJob:
    with tenant_scope(tenant):
        return ImportJob.objects.get()


def mapping_post(job: ImportJob, **extra) -> dict:
    data = {f"col_{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    return {**data, "match_on": "email", "add_tags": "", "contact_list": "", "new_list_name": "", **extra}


def test_upload_then_mapping_then_the_task_imports_the_file(marketer_client, tenant_a,
                                                             django_capture_on_commit_callbacks):
    response = upload(marketer_client, tenant_a)
    job = only_job(tenant_a)
    assert response.status_code == 302 and response["Location"] == url(tenant_a, "import_map", job.pk)
    assert job.status == ImportJob.Status.UPLOADED

    page = marketer_client.get(url(tenant_a, "import_map", job.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert "asha@example.com" in body and "comma separated" in body  # the preview and what was sniffed
    assert '<option value="email" selected>' in body  # "E-mail" was recognised
    assert '<option value="consent:sms" selected>' in body
    assert '<option value="attr:plan" selected>' in body  # other columns become custom attributes

    data = mapping_post(job, add_tags="webinar, vip", new_list_name="Imported")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = marketer_client.post(url(tenant_a, "import_map", job.pk), data)
    assert response.status_code == 302 and response["Location"] == url(tenant_a, "import_detail", job.pk)
    assert len(callbacks) == 1  # the run is queued once the mapping is committed
    job = only_job(tenant_a)
    assert job.status == ImportJob.Status.QUEUED and job.mapping["Plan"] == "attr:plan"

    import_job_run_task.apply(args=[tenant_a.pk, str(job.pk)]).get()
    with tenant_scope(tenant_a):
        asha = Contact.objects.get(email="asha@example.com")
        assert asha.attributes == {"plan": "gold"} and asha.consent_sms == "opted_in"
        assert sorted(asha.tags.values_list("name", flat=True)) == ["vip", "webinar"]
        assert ContactList.objects.get(name="Imported").contacts.filter(pk=asha.pk).exists()

    page = marketer_client.get(url(tenant_a, "import_detail", job.pk))
    assert "Completed with errors" in page.content.decode()
    assert "Bad email" in page.content.decode()
    report = marketer_client.get(url(tenant_a, "import_errors", job.pk))
    assert report["Content-Disposition"] == 'attachment; filename="people-errors.csv"'
    lines = b"".join(report.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0] == "Row,Reason,Full name,E-mail,Mobile,Plan,SMS consent"
    assert lines[1].startswith("3,Bad email: “bad” is not a valid email address,Bo,bad,,silver,no")


def test_a_file_that_is_not_csv_gets_a_clear_error_on_the_upload_page(marketer_client, tenant_a):
    response = upload(marketer_client, tenant_a, b"PK\x03\x04\x14\x00\x06\x00binary", name="people.xlsx")
    assert response.status_code == 400
    assert "not a CSV file. Export the sheet as CSV" in response.content.decode()
    with tenant_scope(tenant_a):
        assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(marketer_client, tenant_a, settings):
    settings.IMPORT_MAX_BYTES = 2 * 1024 * 1024
    response = upload(marketer_client, tenant_a, b"email\n" + b"a@example.com\n" * 200_000)
    assert response.status_code == 400
    assert "The file is 2.7 MB; the limit is 2 MB." in response.content.decode()
    with tenant_scope(tenant_a):
        assert not ImportJob.objects.exists()


def test_mapping_errors_re_render_with_the_choices_kept(marketer_client, tenant_a):
    upload(marketer_client, tenant_a)
    job = only_job(tenant_a)
    data = mapping_post(job, col_1="", col_2="")  # neither email nor phone
    response = marketer_client.post(url(tenant_a, "import_map", job.pk), data)
    assert response.status_code == 400
    assert "Map a column to Email or Phone" in response.content.decode()

    data = mapping_post(job, col_0="city", col_3="city")
    response = marketer_client.post(url(tenant_a, "import_map", job.pk), data)
    assert "“Full name” is already mapped to this field." in response.content.decode()

    data = mapping_post(job, col_1="", match_on="email")
    response = marketer_client.post(url(tenant_a, "import_map", job.pk), data)
    assert "No column is mapped to Email." in response.content.decode()
    assert only_job(tenant_a).status == ImportJob.Status.UPLOADED


def test_the_progress_partial_polls_until_the_job_is_final(marketer_client, tenant_a):
    upload(marketer_client, tenant_a)
    job = only_job(tenant_a)
    with tenant_scope(tenant_a):
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, total_rows=10, processed_rows=4)
    running = marketer_client.get(url(tenant_a, "import_detail", job.pk), headers={"HX-Request": "true"})
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in running.content.decode() and "4 of 10 rows" in running.content.decode()
    assert "<html" not in running.content.decode()  # only the partial

    with tenant_scope(tenant_a):
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.COMPLETED, processed_rows=10)
    final = marketer_client.get(url(tenant_a, "import_detail", job.pk), headers={"HX-Request": "true"})
    assert final.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in final.content.decode() and "10 of 10 rows" in final.content.decode()


def test_the_list_shows_past_imports_with_their_status(marketer_client, analyst_client, tenant_a):
    upload(marketer_client, tenant_a)
    page = analyst_client.get(url(tenant_a, "imports"))
    assert page.status_code == 200
    assert "people.csv" in page.content.decode() and "Waiting for column mapping" in page.content.decode()
    assert "Import a CSV" not in page.content.decode()  # analysts cannot start one


def test_an_analyst_cannot_import(analyst_client, tenant_a):
    assert analyst_client.get(url(tenant_a, "import_new")).status_code == 403
    assert upload(analyst_client, tenant_a).status_code == 403
    with tenant_scope(tenant_a):
        assert not ImportJob.objects.exists()


def test_an_analyst_cannot_start_a_mapped_import(marketer_client, analyst_client, tenant_a):
    upload(marketer_client, tenant_a)
    job = only_job(tenant_a)
    assert analyst_client.post(url(tenant_a, "import_map", job.pk), mapping_post(job)).status_code == 403
    assert only_job(tenant_a).status == ImportJob.Status.UPLOADED


def test_another_tenant_gets_404_for_every_import_page(marketer_client, outsider_client, tenant_a, tenant_b):
    upload(marketer_client, tenant_a)
    job = only_job(tenant_a)
    for name in ("import_detail", "import_map", "import_errors"):
        # The outsider's own workspace URL with A's job id: not found, whatever the id.
        assert outsider_client.get(url(tenant_b, name, job.pk)).status_code == 404
        # A's workspace URL: the outsider is no member there.
        assert outsider_client.get(url(tenant_a, name, job.pk)).status_code in (403, 404)
    assert "people.csv" not in outsider_client.get(url(tenant_b, "imports")).content.decode()
