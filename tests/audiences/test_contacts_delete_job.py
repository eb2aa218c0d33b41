"""A bulk delete of a large selection runs as a Celery task with a progress page."""

from __future__ import annotations

import pytest

from audiences.models import ConsentEvent, Contact, ContactDeleteJob
from audiences.tasks import contacts_delete_job_run_task
from tenants.scoping import tenant_scope
from tests.audiences.test_contacts_grid import bulk, grid, make

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(in_tenant_a):
    contacts = [make(in_tenant_a, n, city="Pune" if n % 2 else "Delhi") for n in range(1, 8)]
    ConsentEvent.objects.create(tenant=in_tenant_a, contact=contacts[0], channel="email", state="opted_in",
                                previous_state="unknown", source="admin")
    return contacts


def test_a_large_selection_is_deleted_by_a_task_that_shows_its_progress(
        owner_client, tenant_a, crowd, settings, django_capture_on_commit_callbacks):
    settings.BULK_DELETE_INLINE_MAX = 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = bulk(owner_client, tenant_a, action="delete", scope="all", filter="city=pune", confirmed="yes")
    job = ContactDeleteJob.objects.get(tenant=tenant_a)
    assert response.status_code == 302 and response["Location"].endswith(f"contacts/delete-jobs/{job.pk}/")
    assert len(callbacks) == 1  # the task is queued after the commit, not run in the request
    assert Contact.objects.filter(tenant=tenant_a).count() == 7

    page = owner_client.get(response["Location"])
    assert page.status_code == 200 and "Queued" in page.content.decode()
    # A contact created after the user confirmed is not part of what they saw: it stays.
    late = make(tenant_a, 99, city="Pune")

    contacts_delete_job_run_task.apply(args=[tenant_a.pk, str(job.pk)]).get()
    job.refresh_from_db()
    assert (job.status, job.total, job.deleted, job.percent) == ("completed", 4, 4, 100)
    assert set(Contact.objects.filter(tenant=tenant_a).values_list("city", flat=True)) == {"Delhi", "Pune"}
    assert Contact.objects.filter(tenant=tenant_a, city="Pune").get() == late
    assert not ConsentEvent.objects.filter(tenant=tenant_a).exists()  # history went with its contact

    poll = owner_client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 286  # htmx stops polling
    assert "Deleted 4 contacts" in poll.content.decode()


def test_a_small_selection_is_still_deleted_in_the_request(owner_client, tenant_a, crowd, settings):
    settings.BULK_DELETE_INLINE_MAX = 10
    response = bulk(owner_client, tenant_a, action="delete", scope="all", filter="city=pune", confirmed="yes")
    assert response.status_code == 302 and not ContactDeleteJob.objects.exists()
    assert Contact.objects.filter(tenant=tenant_a).count() == 3


def test_another_tenants_delete_job_answers_404(owner_client, tenant_a, tenant_b):
    with tenant_scope(tenant_b):
        from django.utils import timezone
        job = ContactDeleteJob.objects.create(tenant=tenant_b, created_before=timezone.now())
    assert owner_client.get(f"{grid(tenant_a)}contacts/delete-jobs/{job.pk}/").status_code == 404
