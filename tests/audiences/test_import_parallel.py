"""A large import: parsed in a child process and merged on two database connections at once.

Those connections see only committed data, so this test commits for real (transactional_db)."""

from __future__ import annotations

import pytest
from django.db import connection

from audiences.models import ConsentEvent, Contact, ContactList, Tag
from tenants.scoping import tenant_scope
from tests.audiences.test_import import rejections, run_import

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY engine: PostgreSQL only")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db(transaction=True)
def test_a_file_merged_on_two_connections_imports_every_row_once_and_reruns_as_a_no_op(tenant_a, settings):
    settings.IMPORT_CHUNK_ROWS = 100
    settings.IMPORT_PARSE_PROCESS_MIN_ROWS = 0
    settings.IMPORT_MERGE_CONNECTIONS = 2
    lines = ["email,phone,tags,consent_sms"]
    lines += [f"user{i}@example.com,98{i:08d},{'vip' if i % 3 == 0 else ''},{'yes' if i % 2 else ''}"
              for i in range(1, 1001)]
    lines += ["user5@example.com,,,", "not-an-email,,,"]
    content = "\n".join(lines) + "\n"
    job = run_import(tenant_a, content, tag_names=("imported",), new_list_name="Big file")

    assert (job.status, job.total_rows, job.processed_rows) == ("completed", 1002, 1002)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (1000, 0, 0, 2)
    assert rejections(job) == {1002: "Duplicate of row 6 (same email user5@example.com)",
                               1003: "Bad email: “not-an-email” is not a valid email address"}
    with tenant_scope(tenant_a):
        assert Contact.objects.filter(tenant=tenant_a).count() == 1000
        assert Contact.objects.get(email="user3@example.com").phone == "+919800000003"
        assert Tag.objects.get(name="vip").contacts.count() == 333
        assert Tag.objects.get(name="imported").contacts.count() == 1000
        assert ContactList.objects.get(name="Big file").contacts.count() == 1000
        assert ConsentEvent.objects.filter(tenant=tenant_a, channel="sms", source="import").count() == 500

    again = run_import(tenant_a, content, tag_names=("imported",), new_list_name="Big file")
    assert (again.created_count, again.updated_count, again.unchanged_count, again.rejected_count) == (0, 0, 1000, 2)
    with tenant_scope(tenant_a):
        assert ConsentEvent.objects.filter(tenant=tenant_a).count() == 500
