"""Writes of the CSV import: accept an upload, record the column mapping and queue the run.

The engine itself (sniffing, normalization, chunked upsert) lives in audiences.importer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audiences.importer import ImportFileError, default_mapping, import_max_bytes, sniff_file
from audiences.models import ContactList, ImportJob, ImportRejection, Tag
from tenants.scoping import tenant_scope

__all__ = ["ImportFileError", "import_configure", "import_rejections_csv", "import_upload"]


def import_upload(*, tenant, upload: UploadedFile, user) -> ImportJob:
    """Check and store an uploaded CSV; raises ImportFileError (and stores nothing) when it is not one."""
    limit = import_max_bytes()
    if upload.size > limit:
        raise ImportFileError(f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                              f"{limit / 1024 / 1024:.0f} MB. Split it into smaller files.")
    sniffed = sniff_file(upload)
    upload.seek(0)
    job = ImportJob(tenant=tenant, original_name=upload.name[:255], size_bytes=upload.size,
                    encoding=sniffed.encoding, delimiter=sniffed.delimiter, headers=sniffed.headers,
                    mapping=default_mapping(sniffed.headers), created_by=user)
    # The stored name is ours: the user's file name is kept for display only.
    job.file.save(f"{job.pk}.csv", upload, save=False)
    job.save()
    return job


def import_configure(*, job: ImportJob, mapping: dict[str, str], match_on: str, tag_names: list[str],
                     contact_list: ContactList | None = None, new_list_name: str = "",
                     enqueue: bool = True) -> ImportJob:
    """Save the mapping step and queue the run (once: a job past the mapping step is left alone).

    enqueue=False leaves the job queued for a caller that runs it in-process (bench_import)."""
    from audiences.tasks import import_job_run_task

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportJob.Status.UPLOADED:
            return job
        if new_list_name:
            contact_list, _ = ContactList.objects.get_or_create(tenant=job.tenant, name=new_list_name)
        tags = []
        for name in dict.fromkeys(tag_names):
            tag = Tag.objects.filter(tenant=job.tenant, name__iexact=name).first()
            tags.append(tag or Tag.objects.create(tenant=job.tenant, name=name))
        job.mapping = {header: mapping.get(header, "") for header in job.headers}
        job.match_on = match_on
        job.add_to_list = contact_list
        job.status = ImportJob.Status.QUEUED
        job.save(update_fields=["mapping", "match_on", "add_to_list", "status"])
        job.add_tags.set(tags)
        tenant_id, job_id = job.tenant_id, str(job.pk)
        if enqueue:
            transaction.on_commit(lambda: import_job_run_task.delay(tenant_id, job_id))
    return job


def _neutralize(cell: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; a leading quote makes them text."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def import_rejections_csv(*, job: ImportJob) -> Iterator[str]:
    """The errors report: row number, reason, then the row as it was in the file, one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_neutralize(str(c)) for c in cells])
        return buffer.getvalue()

    yield "\ufeff"  # Excel needs the BOM to read UTF-8
    yield line(["Row", "Reason", *job.headers])
    # A streaming response is read after the view returned, outside the request's tenant scope.
    with tenant_scope(job.tenant_id):
        rows = ImportRejection.objects.filter(tenant_id=job.tenant_id, job=job).order_by("row_number", "id")
        for row_number, reason, raw in rows.values_list("row_number", "reason", "raw").iterator(chunk_size=2000):
            try:
                cells = json.loads(raw) if raw else []
            except ValueError:
                cells = [raw]
            yield line([str(row_number), reason, *cells])
