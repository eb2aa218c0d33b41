"""Background work of audiences: the CSV import run."""

from __future__ import annotations

from celery import shared_task

from audiences.importer import import_run
from audiences.models import ImportJob
from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="audiences.tasks.import_job_run_task")
def import_job_run_task(tenant, job_id: str) -> None:
    """Import one queued CSV in chunks; a finished (or missing) job is left alone."""
    job = ImportJob.objects.filter(tenant=tenant, pk=job_id).first()
    if job is None or job.status in ImportJob.FINAL:
        return
    import_run(job=job)
