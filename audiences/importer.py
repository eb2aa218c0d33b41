"""CSV contact import: sniffing, row normalization and the chunked upsert engine.

The file is read as a stream (csv.reader over a text wrapper), never loaded whole. Rows are
normalized in Python (addresses are validated there, where the readable reasons are), and each
chunk of valid rows is applied with set-based SQL: on PostgreSQL the chunk is COPYed into a temp
table and merged with a handful of statements; on other databases (SQLite, the dev default) a
simpler ORM path does the same with bulk queries. Both count created / updated / unchanged exactly
and append a ConsentEvent only when a channel's state really changes, so re-running a file is a
no-op.

Cell semantics: an empty cell never blanks a stored value (spreadsheets leave gaps); custom
attributes merge into the stored ones; tags and list membership are only ever added.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
import os
import pickle
import queue
import re
import signal
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactList,
    ContactRole,
    ImportJob,
    ImportRejection,
    Tag,
)
from audiences.services import attribute_value, email_normalize, phone_normalize
from tenants.models import CHANNEL_LABELS
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

# Contact columns a CSV column can fill, with their labels in the mapping step.
CONTACT_FIELDS = {
    "first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone", "role": "Role",
    "city": "City", "pincode": "Pincode", "timezone": "Time zone", "locale": "Locale",
    "telegram_chat_id": "Telegram chat id", "telegram_username": "Telegram username",
    "tags": "Tags (comma-separated)",
}
TEXT_FIELDS = ("first_name", "last_name", "city", "pincode", "timezone", "locale", "telegram_chat_id",
               "telegram_username")
MAX_LENGTHS = {name: Contact._meta.get_field(name).max_length for name in TEXT_FIELDS}
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length

# Header spellings recognised for the mapping step's defaults (compared after _header_key()).
HEADER_ALIASES = {
    "first_name": {"first_name", "firstname", "first", "given_name", "fname", "name", "full_name"},
    "last_name": {"last_name", "lastname", "last", "surname", "family_name", "lname"},
    "email": {"email", "e_mail", "email_address", "mail", "emailaddress"},
    "phone": {"phone", "phone_number", "mobile", "mobile_number", "cell", "msisdn", "telephone", "tel",
              "whatsapp", "contact_number"},
    "role": {"role", "type", "contact_type"},
    "city": {"city", "town"},
    "pincode": {"pincode", "pin", "pin_code", "zip", "zipcode", "zip_code", "postcode", "postal_code"},
    "timezone": {"timezone", "time_zone", "tz"},
    "locale": {"locale", "language", "lang"},
    "telegram_chat_id": {"telegram_chat_id", "chat_id", "telegram_id"},
    "telegram_username": {"telegram_username", "telegram", "telegram_handle"},
    "tags": {"tags", "tag", "labels"},
}

CONSENT_VALUES = {
    **dict.fromkeys(("yes", "y", "true", "t", "1", "opted_in", "opted in", "opt-in", "opt_in", "optin", "in",
                     "subscribed"), ConsentState.OPTED_IN),
    **dict.fromkeys(("no", "n", "false", "f", "0", "opted_out", "opted out", "opt-out", "opt_out", "optout",
                     "out", "unsubscribed"), ConsentState.OPTED_OUT),
    # An export of our own grid says "unknown": that is no statement, so it changes nothing.
    "unknown": None,
}
ROLE_VALUES = {**{c.value: c.value for c in ContactRole}, **{c.label.lower(): c.value for c in ContactRole}}

# Signatures of files people upload by mistake (xlsx/docx are zip archives; xls is OLE2).
BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel / Office document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")


class ImportFileError(ValueError):
    """The upload is not a CSV file we can read; the message is shown to the user as is."""


def import_max_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


def import_max_rows() -> int:
    return settings.IMPORT_MAX_ROWS


def import_chunk_rows() -> int:
    return settings.IMPORT_CHUNK_ROWS


# --- sniffing -------------------------------------------------------------------------------------

@dataclass
class Sniffed:
    encoding: str
    delimiter: str
    headers: list[str]
    preview: list[list[str]]


def _detect_encoding(fh) -> str:
    """utf-8-sig with a BOM, utf-8 when every byte decodes, else cp1252 (Excel on Windows), else latin-1."""
    fh.seek(0)
    head = fh.read(4)
    fh.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError("This file is saved as UTF-16. Save it as “CSV UTF-8” and upload it again.")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while block := fh.read(1024 * 1024):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("cp1252")()
    try:
        while block := fh.read(1024 * 1024):
            decoder.decode(block)
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # decodes any byte; cp1252 leaves five of them undefined
    finally:
        fh.seek(0)


def _detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        # The sniffer wants consistent rows; the header line alone is a good enough vote.
        counts = {d: lines[0].count(d) for d in DELIMITERS} if lines else {}
        best = max(counts, key=counts.get, default=",")
        return best if counts.get(best) else ","


def _unique_headers(raw: list[str]) -> list[str]:
    headers, seen = [], set()
    for index, name in enumerate(raw, start=1):
        base = name.strip() or f"Column {index}"
        candidate, n = base, 2
        while candidate.lower() in seen:
            candidate, n = f"{base} ({n})", n + 1
        seen.add(candidate.lower())
        headers.append(candidate)
    return headers


def sniff_file(fh) -> Sniffed:
    """Encoding, delimiter, headers and the first five rows of an uploaded file (binary file object)."""
    fh.seek(0)
    sample_bytes = fh.read(SNIFF_BYTES)
    if not sample_bytes.strip():
        raise ImportFileError("The file is empty.")
    for magic, what in BINARY_MAGIC.items():
        if sample_bytes.startswith(magic):
            raise ImportFileError(f"This is {what}, not a CSV file. Export the sheet as CSV and upload that.")
    if b"\x00" in sample_bytes:
        raise ImportFileError("This is a binary file, not a CSV file. Export the sheet as CSV and upload that.")
    encoding = _detect_encoding(fh)
    sample = sample_bytes.decode(encoding, errors="replace")
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > len(sample) // 100:
        raise ImportFileError("This does not look like a text file. Export the sheet as CSV and upload that.")
    delimiter = _detect_delimiter(sample)
    fh.seek(0)
    rows = _iter_rows(fh, encoding, delimiter)
    try:
        header = next((row for _, row in rows if any(cell.strip() for cell in row)), None)
        if header is None:
            raise ImportFileError("The file has no header row.")
        preview = []
        for _, row in rows:
            if any(cell.strip() for cell in row):
                preview.append(row)
            if len(preview) == 5:
                break
    except csv.Error as exc:
        raise ImportFileError(f"This file cannot be read as CSV: {exc}.") from None
    while header and not header[-1].strip():
        header.pop()  # trailing empty columns that spreadsheets like to export
    if not header:
        raise ImportFileError("The header row has no column names.")
    return Sniffed(encoding=encoding, delimiter=delimiter, headers=_unique_headers(header), preview=preview)


def _iter_rows(fh, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) for every record; record 1 is the header, as in a spreadsheet."""
    text = io.TextIOWrapper(fh, encoding=encoding, newline="", errors="replace")
    try:
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        yield from enumerate(reader, start=1)
    finally:
        text.detach()  # leave the caller's file open


def preview_rows(*, job: ImportJob, limit: int = 5) -> list[list[str]]:
    """The first non-empty data rows of a stored upload, cut or padded to the header's width."""
    width = len(job.headers)
    preview: list[list[str]] = []
    with job.file.open("rb") as fh:
        header_seen = False
        for _, row in _iter_rows(fh, job.encoding, job.delimiter):
            if not any(cell.strip() for cell in row):
                continue
            if header_seen:
                preview.append((row + [""] * width)[:width])
                if len(preview) == limit:
                    break
            header_seen = True
    return preview


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def attribute_key(header: str) -> str:
    """Custom attribute names are letters, digits and underscores (what segments accept)."""
    return _header_key(header) or "attribute"


def default_mapping(headers: list[str]) -> dict[str, str]:
    """A first guess from the header names; each contact field is taken by one column at most."""
    mapping, taken = {}, set()
    for header in headers:
        key = _header_key(header)
        guess = ""
        for target, aliases in HEADER_ALIASES.items():
            if key in aliases and target not in taken:
                guess = target
                break
        if not guess:
            for channel in CONSENT_CHANNELS:
                if key in {f"consent_{channel}", f"{channel}_consent", f"{channel}_opt_in", f"{channel}_optin"}:
                    guess = f"consent:{channel}"
        if not guess and key not in {alias for aliases in HEADER_ALIASES.values() for alias in aliases}:
            guess = f"attr:{attribute_key(header)}"  # what the upload page promises for other columns
        taken.add(guess)
        mapping[header] = guess
    return mapping


def mapping_choices(header: str) -> list[tuple[str, str]]:
    """The options of one column's select in the mapping step."""
    return [
        ("", "— Ignore this column —"),
        *CONTACT_FIELDS.items(),
        (f"attr:{attribute_key(header)}", f"Custom attribute “{attribute_key(header)}”"),
        *((f"consent:{c}", f"Consent: {CHANNEL_LABELS[c]}") for c in CONSENT_CHANNELS),
    ]


# --- row normalization ----------------------------------------------------------------------------

@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass(slots=True)
class StagedRow:
    row_number: int
    match_kind: str
    values: dict[str, str]  # contact text columns present in the file (never empty strings)
    attributes: dict[str, str | int | float] | None
    tag_names: tuple[str, ...]
    consent: dict[str, str]


class RowRejected(Exception):
    pass


class RowNormalizer:
    """Turns cells into a StagedRow or raises RowRejected with a reason a person can act on."""

    def __init__(self, *, headers: list[str], mapping: dict[str, str], match_on: str, region: str):
        self.width = len(headers)
        self.region = region
        self.match_on = match_on
        self.other_key = "phone" if match_on == "email" else "email"
        self.columns: list[tuple[int, str]] = [
            (index, mapping.get(header, "")) for index, header in enumerate(headers) if mapping.get(header)
        ]
        # First row number seen for each address, to name the earlier row in a duplicate's reason.
        self.seen: dict[str, dict[str, int]] = {"email": {}, "phone": {}}

    def normalize(self, row_number: int, cells: list[str]) -> StagedRow:
        if not any(cell.strip() for cell in cells):
            raise RowRejected("Empty row")
        if len(cells) != self.width:
            extra = cells[self.width:]
            if len(cells) < self.width or any(cell.strip() for cell in extra):
                raise RowRejected(f"Wrong number of columns: {len(cells)} instead of {self.width}")
        values: dict[str, str] = {}
        attributes: dict[str, str | int | float] = {}
        consent: dict[str, str] = {}
        tag_names: list[str] = []
        for index, target in self.columns:
            value = cells[index].strip()
            if not value:
                continue
            if target == "email":
                try:
                    values["email"] = email_normalize(value)
                except ValueError as exc:
                    raise RowRejected(f"Bad email: {exc}") from None
            elif target == "phone":
                try:
                    values["phone"] = phone_normalize(value, region=self.region)
                except ValueError as exc:
                    raise RowRejected(f"Unparseable phone: {exc}") from None
            elif target == "role":
                role = ROLE_VALUES.get(value.lower())
                if role is None:
                    raise RowRejected(f"Bad role “{value}”: use customer or partner")
                values["role"] = role
            elif target == "tags":
                for name in value.split(","):
                    name = name.strip()
                    if len(name) > TAG_MAX_LENGTH:
                        raise RowRejected(f"Tag “{name[:20]}…” is longer than {TAG_MAX_LENGTH} characters")
                    if name:
                        tag_names.append(name)
            elif target.startswith("attr:"):
                attributes[target[5:]] = attribute_value(value)
            elif target.startswith("consent:"):
                channel = target[8:]
                if value.lower() not in CONSENT_VALUES:
                    raise RowRejected(f"Bad {CHANNEL_LABELS[channel]} consent “{value}”: use yes / no "
                                      "(or opted_in / opted_out)")
                if state := CONSENT_VALUES[value.lower()]:
                    consent[channel] = state
            else:
                if len(value) > MAX_LENGTHS[target]:
                    raise RowRejected(f"{CONTACT_FIELDS[target]} is longer than {MAX_LENGTHS[target]} characters")
                if target == "timezone" and value not in _timezones():
                    raise RowRejected(f"Bad time zone “{value}”: use an IANA name such as Asia/Kolkata")
                values[target] = value
        match_kind = self.match_on if values.get(self.match_on) else self.other_key
        if not values.get(match_kind):
            raise RowRejected("No email and no phone")
        # Both addresses are unique per tenant: a later row repeating either one would make the
        # database refuse the chunk, so it is rejected here with the earlier row's number.
        for kind in (match_kind, "phone" if match_kind == "email" else "email"):
            address = values.get(kind)
            if not address:
                continue
            earlier = self.seen[kind].get(address)
            if earlier is not None:
                if kind == match_kind:
                    raise RowRejected(f"Duplicate of row {earlier} (same {kind} {address})")
                raise RowRejected(f"The {kind} {address} is already used by row {earlier}")
        for kind in ("email", "phone"):
            if values.get(kind):
                self.seen[kind][values[kind]] = row_number
        return StagedRow(row_number, match_kind, values, attributes or None, tuple(tag_names), consent)


# --- the run --------------------------------------------------------------------------------------

@dataclass
class ChunkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason) found in the DB


def _count_records(job: ImportJob) -> int:
    with job.file.open("rb") as fh:
        return sum(1 for _ in _iter_rows(fh, job.encoding, job.delimiter)) - 1


def _estimate_records(job: ImportJob) -> int:
    """Data rows at most (line breaks minus the header), without parsing: the exact count comes
    out of the run itself, and is only computed up front when this bound exceeds the limit."""
    lines, last = 0, b"\n"
    with job.file.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def import_run(*, job: ImportJob, chunk_rows: int | None = None) -> ImportJob:
    """Process a queued job to the end. Safe to call again: a final job is left alone."""
    if job.status in ImportJob.FINAL:
        return job
    chunk_rows = chunk_rows or import_chunk_rows()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now(),
                                               processed_rows=0, created_count=0, updated_count=0,
                                               unchanged_count=0, rejected_count=0)
    job.rejections.all().delete()  # a retried job (worker lost) starts its report over
    try:
        total = _estimate_records(job)
        if total > import_max_rows():
            total = _count_records(job)
            if total > import_max_rows():
                raise ImportFileError(f"The file has {total:,} rows; an import takes at most {import_max_rows():,}.")
        ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
        job.total_rows = total
        _run_chunks(job, chunk_rows)
    except Exception as exc:
        logger.exception("Import %s failed", job.pk)
        message = str(exc) if isinstance(exc, ImportFileError | csv.Error) else "The import stopped on an error."
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, error_message=message,
                                                   finished_at=timezone.now())
    else:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.COMPLETED, finished_at=timezone.now())
    job.refresh_from_db()
    return job


@dataclass
class _Chunk:
    # ORM engine: normalized rows, and their cells for rejections found in the database.
    staged: list[StagedRow] = field(default_factory=list)
    raw: dict[int, list[str]] = field(default_factory=dict)
    # COPY engine: the accepted rows as lines of COPY text, and the tag names they carry.
    copy_lines: list[str] = field(default_factory=list)
    tag_names: set[str] = field(default_factory=set)
    tag_ids: dict[str, str] = field(default_factory=dict)  # lower-cased name -> id, filled in by the parent
    # (row number, reason, the row as JSON) of the rows the normalizer refused.
    rejections: list[tuple[int, str, str]] = field(default_factory=list)
    rows: int = 0
    last_record: int = 0  # number of the last record read so far (the header is record 1 or later)


def _parse_chunks(job: ImportJob, normalizer: RowNormalizer, chunk_rows: int, *, copy: bool) -> Iterator[_Chunk]:
    """Read and normalize the file chunk by chunk (needs no database: it may run in a child process)."""
    encoder = _CopyEncoder() if copy else None
    with job.file.open("rb") as fh:
        rows = _iter_rows(fh, job.encoding, job.delimiter)
        row_number = 0
        for header_number, cells in rows:  # up to and including the header, as sniff_file found it
            row_number = header_number
            if any(cell.strip() for cell in cells):
                break
        chunk = _Chunk()
        for row_number, cells in rows:
            chunk.rows += 1
            try:
                staged = normalizer.normalize(row_number, cells)
            except RowRejected as exc:
                chunk.rejections.append((row_number, str(exc)[:300], json.dumps(cells, ensure_ascii=False)))
            else:
                if encoder is not None:
                    chunk.copy_lines.append(encoder.line(staged))
                    chunk.tag_names.update(staged.tag_names)
                else:
                    chunk.staged.append(staged)
                    chunk.raw[row_number] = cells
            if chunk.rows >= chunk_rows:
                chunk.last_record = row_number
                yield chunk
                chunk = _Chunk()
        chunk.last_record = row_number
        yield chunk


def _forked(produce: Callable[[], Iterator[_Chunk]]) -> Iterator[_Chunk]:
    """Run `produce` in a forked child and yield its chunks here, so that parsing (Python) and
    merging (PostgreSQL) use both cores. The pipe holds about one chunk: the child stays at most a
    chunk or two ahead, and memory stays flat. A fork, not multiprocessing: Celery's prefork pool
    runs tasks in daemonic processes, which multiprocessing refuses to give children."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, send, and leave without running the parent's exit handlers
        os.close(read_fd)
        try:
            with os.fdopen(write_fd, "wb") as out:
                try:
                    for chunk in produce():
                        pickle.dump(("chunk", chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(("done", None), out)
                except Exception as exc:  # re-raised in the parent, with a message the user can read
                    error = exc if isinstance(exc, ImportFileError | csv.Error) else RuntimeError(repr(exc))
                    pickle.dump(("error", error), out)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as inp:
            while True:
                try:
                    kind, payload = pickle.load(inp)
                except EOFError:
                    raise RuntimeError("The import's parsing process stopped unexpectedly.") from None
                if kind == "error":
                    raise payload
                if kind == "done":
                    return
                yield payload
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def _use_copy() -> bool:
    return connection.vendor == "postgresql"


def _run_chunks(job: ImportJob, chunk_rows: int) -> None:
    normalizer = RowNormalizer(headers=job.headers, mapping=job.mapping, match_on=job.match_on,
                               region=job.tenant.default_phone_region)
    extra_tags = tuple(job.add_tags.values_list("name", flat=True))
    if _use_copy():
        _run_copy(job, normalizer, chunk_rows, extra_tags)
        return
    last_record = 0
    for chunk in _parse_chunks(job, normalizer, chunk_rows, copy=False):
        with transaction.atomic():
            result = _apply_chunk_orm(job, chunk.staged, extra_tags) if chunk.staged else ChunkResult()
            rejections = chunk.rejections + [(row, reason, json.dumps(chunk.raw[row], ensure_ascii=False))
                                             for row, reason in result.rejected]
            _save_progress(job, chunk, result, rejections)
        last_record = chunk.last_record
    ImportJob.objects.filter(pk=job.pk).update(total_rows=max(last_record - 1, 0))


def _save_progress(job: ImportJob, chunk: _Chunk, result: ChunkResult, rejections: list[tuple[int, str, str]]) -> None:
    ImportRejection.objects.bulk_create([
        ImportRejection(tenant_id=job.tenant_id, job_id=job.pk, row_number=row, reason=reason[:300], raw=raw)
        for row, reason, raw in rejections], batch_size=2000)
    # Increments, not values: with several merge connections, chunks commit in any order.
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + chunk.rows, created_count=F("created_count") + result.created,
        updated_count=F("updated_count") + result.updated, unchanged_count=F("unchanged_count") + result.unchanged,
        rejected_count=F("rejected_count") + len(chunk.rejections) + len(result.rejected))


class _Mergers:
    """Apply COPY chunks: inline on the caller's connection, or on `count` connections of their own.

    One PostgreSQL backend merges a chunk at about the speed one Python process parses it, so a
    large file gets two: the child parses, two backends merge, and all of it overlaps. Chunks of one
    file never share an address (the parser rejects duplicates), so they do not wait for each
    other; other imports of the tenant wait for the whole run on a session-level lock instead of
    the per-chunk one."""

    def __init__(self, job: ImportJob, extra_tag_ids: list[str], count: int):
        self.job, self.extra_tag_ids, self.count = job, extra_tag_ids, count
        self.rejected: list[tuple[int, str]] = []
        self.created, self.analyze_at = 0, 1
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.queue: queue.Queue[_Chunk | None] = queue.Queue(maxsize=1)
        self.threads = [threading.Thread(target=self._work, name=f"import-merge-{n}", daemon=True)
                        for n in range(count if count > 1 else 0)]

    def __enter__(self) -> _Mergers:
        if self.threads:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext('audiences.import'), %s)", [self.job.tenant_id])
            for thread in self.threads:
                thread.start()
        return self

    def submit(self, chunk: _Chunk) -> None:
        if not self.threads:
            self._merge(chunk, lock=True)
            return
        while True:  # never block for good on a queue whose workers died
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(chunk, timeout=1)
                return
            except queue.Full:
                continue

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.threads:
            return
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(hashtext('audiences.import'), %s)", [self.job.tenant_id])
        if exc is None and self.error is not None:
            raise self.error

    def _work(self) -> None:
        try:
            with tenant_scope(self.job.tenant_id):
                while (chunk := self.queue.get()) is not None:
                    if self.error is None:
                        try:
                            self._merge(chunk, lock=False)
                        except BaseException as exc:
                            self.error = exc
        finally:
            global merge_backend_cpu_seconds
            with self.lock:
                merge_backend_cpu_seconds += backend_cpu_seconds()
            connection.close()  # this thread's own connection

    def _merge(self, chunk: _Chunk, *, lock: bool) -> None:
        with transaction.atomic():
            result = _apply_chunk_copy(self.job, chunk, self.extra_tag_ids, lock=lock) if chunk.copy_lines \
                else ChunkResult()
            _save_progress(self.job, chunk, result, chunk.rejections)
        with self.lock:
            self.rejected += result.rejected
            self.created += result.created
            analyze = self.created >= self.analyze_at
            if analyze:
                # Row estimates scale with the table's size between two ANALYZEs: the first one
                # is what matters, later ones only as the tenant grows by an order of magnitude.
                self.analyze_at = self.created * 8
        if analyze:
            # A tenant that grows from nothing to a million contacts within minutes outruns
            # autovacuum's statistics: the planner would still believe it has a handful of rows
            # and resolve addresses through the tenant's keyset index, reading every contact for
            # each row. Refresh them after the first chunk.
            with connection.cursor() as cur:
                cur.execute("ANALYZE audiences_contact (tenant_id, email, phone)")


# CPU spent by the backends of merge connections that have closed (bench_import reports it).
merge_backend_cpu_seconds = 0.0


def backend_cpu_seconds() -> float:
    """CPU seconds used so far by this thread's PostgreSQL backend (0 when the server is not local)."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return 0.0
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_copy(job: ImportJob, normalizer: RowNormalizer, chunk_rows: int, extra_tags: tuple[str, ...]) -> None:
    extra_tag_ids = [str(tag_id) for tag_id in _tag_ids(job.tenant_id, set(extra_tags)).values()]
    large = job.total_rows >= settings.IMPORT_PARSE_PROCESS_MIN_ROWS
    chunks = _parse_chunks(job, normalizer, chunk_rows, copy=True)
    if large:
        chunks = _forked(lambda: _parse_chunks(job, normalizer, chunk_rows, copy=True))
    last_record = 0
    with contextlib.closing(chunks), _Mergers(job, extra_tag_ids,
                                             settings.IMPORT_MERGE_CONNECTIONS if large else 1) as mergers:
        for chunk in chunks:
            # Here, once, so that two merge connections never race to create the same tag.
            chunk.tag_ids = {n: str(i) for n, i in _tag_ids(job.tenant_id, chunk.tag_names).items()}
            mergers.submit(chunk)
            last_record = chunk.last_record
    if mergers.rejected:
        # Rare (another contact owns an address): their cells are read back from the file once.
        reasons = dict(mergers.rejected)
        with job.file.open("rb") as fh:
            ImportRejection.objects.bulk_create([
                ImportRejection(tenant_id=job.tenant_id, job_id=job.pk, row_number=row, reason=reasons[row][:300],
                                raw=json.dumps(cells, ensure_ascii=False))
                for row, cells in _iter_rows(fh, job.encoding, job.delimiter) if row in reasons], batch_size=2000)
    ImportJob.objects.filter(pk=job.pk).update(total_rows=max(last_record - 1, 0))


def _tag_ids(tenant_id: int, names: set[str]) -> dict[str, str]:
    """Lower-cased name -> tag id, creating missing tags (names compare case-insensitively)."""
    if not names:
        return {}
    by_lower = {name.lower(): name for name in names}
    existing = {t.name.lower(): t.pk for t in Tag.objects.filter(tenant_id=tenant_id, name__in=list(names))}
    missing = [n for n in by_lower if n not in existing]
    if missing:
        # Case differs from the file's spelling: look the rest up case-insensitively, then create.
        for tag in Tag.objects.filter(tenant_id=tenant_id):
            if tag.name.lower() in by_lower:
                existing.setdefault(tag.name.lower(), tag.pk)
        new = [Tag(tenant_id=tenant_id, name=by_lower[n]) for n in by_lower if n not in existing]
        Tag.objects.bulk_create(new, ignore_conflicts=True)
        for tag in Tag.objects.filter(tenant_id=tenant_id):
            existing.setdefault(tag.name.lower(), tag.pk)
    return {n: existing[n] for n in by_lower}


def _row_tag_ids(staged: list[StagedRow], extra_tags: tuple[str, ...], tenant_id: int) -> list[list[str]]:
    names = {n for row in staged for n in row.tag_names} | set(extra_tags)
    ids = _tag_ids(tenant_id, names)
    extra = [ids[n.lower()] for n in extra_tags]
    return [sorted({*extra, *(ids[n.lower()] for n in row.tag_names)}, key=str) for row in staged]


# --- PostgreSQL: COPY into a temp table, then merge with set-based statements -------------------

_FIELD_COLUMNS = ("email", "phone", "role", *TEXT_FIELDS)
_IN_COLUMNS = ("row_number", "match_kind", "new_id", *_FIELD_COLUMNS, "attributes", "tags",
               *(f"c_{c}" for c in CONSENT_CHANNELS))

# No index: every statement reads the whole chunk once, and index upkeep would cost more than it saves.
# Rows arrive in audiences_import_in (COPY) and move to audiences_import_rows with the contacts that
# own their addresses, resolved in one join.
_STAGE_DDL = f"""
CREATE TEMP TABLE IF NOT EXISTS audiences_import_in (
    row_number integer NOT NULL, match_kind text NOT NULL, new_id uuid NOT NULL,
    {", ".join(f"{c} text" for c in _FIELD_COLUMNS)},
    attributes jsonb, tags text,
    {", ".join(f"c_{c} text" for c in CONSENT_CHANNELS)}
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS audiences_import_rows (
    LIKE audiences_import_in, contact_id uuid, email_owner uuid, phone_owner uuid
) ON COMMIT DELETE ROWS
"""

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


class _CopyEncoder:
    """StagedRow -> one line of COPY text for audiences_import_in (runs in the parsing process).

    New contacts get time-ordered ids (the layout of UUID version 7: milliseconds, then 74 random
    bits): a million new keys then land at the right edge of the primary key and of every index
    led by the id (tags, lists, consent history) instead of on random pages of a large index."""

    def line(self, row: StagedRow) -> str:
        values = row.values
        rand = int.from_bytes(os.urandom(10))
        new_id = ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62
                  | rand & 0x3FFF_FFFF_FFFF_FFFF)
        fields = [values.get(c) for c in _FIELD_COLUMNS]
        fields.append(json.dumps(row.attributes) if row.attributes else None)
        fields.append(",".join(row.tag_names) if row.tag_names else None)
        # One look for characters COPY must escape in the whole row (there rarely are any).
        if _COPY_SPECIAL.search("\x00".join(f for f in fields if f is not None)):
            fields = [None if f is None else f.translate(_COPY_ESCAPES) for f in fields]
        return "\t".join((
            str(row.row_number), row.match_kind, f"{new_id:032x}",
            *(f if f is not None else "\\N" for f in fields),
            *(row.consent.get(c, "\\N") for c in CONSENT_CHANNELS),
        )) + "\n"


def _apply_chunk_copy(job: ImportJob, chunk: _Chunk, extra_tag_ids: list[str], *, lock: bool = True) -> ChunkResult:
    tenant_id = job.tenant_id
    result = ChunkResult()
    names = sorted(chunk.tag_names)
    params = {"t": tenant_id, "job": str(job.pk), "names": names, "name_ids": [chunk.tag_ids[n.lower()] for n in names],
              "extra": extra_tag_ids, "list": job.add_to_list_id}
    with connection.cursor() as cur:
        cur.execute(_STAGE_DDL)
        # ON COMMIT does not fire when the chunk runs inside an outer transaction (a savepoint).
        cur.execute("TRUNCATE audiences_import_in, audiences_import_rows")
        # Joins below are a few thousand staged rows against key probes into a table that may hold
        # millions: never let a stale estimate turn one into a scan of every contact. A crash may
        # lose the last commits of a chunk and its progress together; the job is then run again,
        # which is safe (an import is idempotent), so commits need not wait for the disk.
        cur.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
                    "SET LOCAL synchronous_commit = off")
        # One import at a time per tenant between resolving and inserting, so two imports of
        # the same address cannot both decide to create it (a run with several merge connections
        # holds this lock for the whole run instead).
        if lock:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('audiences.import'), %s)", [tenant_id])
        with cur.cursor.copy(f"COPY audiences_import_in ({', '.join(_IN_COLUMNS)}) FROM STDIN") as copy:
            copy.write("".join(chunk.copy_lines))
        cur.execute("""
            INSERT INTO audiences_import_rows
            SELECT s.*, CASE WHEN s.match_kind = 'email' THEN e.id ELSE p.id END, e.id, p.id
              FROM audiences_import_in s
              LEFT JOIN audiences_contact e ON e.tenant_id = %(t)s AND e.email = s.email AND e.email <> ''
              LEFT JOIN audiences_contact p ON p.tenant_id = %(t)s AND p.phone = s.phone AND p.phone <> ''
        """, params)
        # The other address may already belong to a different contact: both are unique per tenant.
        cur.execute("""
            DELETE FROM audiences_import_rows
             WHERE email_owner IS DISTINCT FROM contact_id AND email_owner IS NOT NULL
                OR phone_owner IS DISTINCT FROM contact_id AND phone_owner IS NOT NULL
            RETURNING row_number, CASE WHEN email_owner IS DISTINCT FROM contact_id AND email_owner IS NOT NULL
                                       THEN 'The email ' || email ELSE 'The phone ' || phone END
                                  || ' belongs to another contact'
        """)
        result.rejected.extend(cur.fetchall())
        cur.execute("SELECT count(DISTINCT contact_id), count(*) FILTER (WHERE contact_id IS NULL) "
                    "FROM audiences_import_rows")
        existing, new = cur.fetchone()

        changed: set[uuid.UUID] = set()
        if existing:
            # A true row count, so the planner drives the joins from the chunk into contacts' key
            # (one column: a full ANALYZE of the chunk costs as much as the merge).
            cur.execute("ANALYZE audiences_import_rows (contact_id)")
            consent_values = ", ".join(f"('{c}', s.c_{c}, c.consent_{c})" for c in CONSENT_CHANNELS)
            cur.execute(f"""
                INSERT INTO audiences_consentevent
                    (tenant_id, contact_id, channel, state, previous_state, source, evidence, created_at)
                SELECT %(t)s, c.id, v.channel, v.new, v.old, 'import',
                       jsonb_build_object('import_job', %(job)s, 'row', s.row_number), now()
                  FROM audiences_import_rows s JOIN audiences_contact c ON c.id = s.contact_id
                 CROSS JOIN LATERAL (VALUES {consent_values}) AS v(channel, new, old)
                 WHERE v.new IS NOT NULL AND v.new <> v.old
            """, params)
            new_values = [f"COALESCE(s.{c}, c.{c})" for c in _FIELD_COLUMNS]
            new_values += ["c.attributes || COALESCE(s.attributes, '{}'::jsonb)"]
            new_values += [f"COALESCE(s.c_{c}, c.consent_{c})" for c in CONSENT_CHANNELS]
            old_values = [f"c.{c}" for c in _FIELD_COLUMNS] + ["c.attributes"]
            old_values += [f"c.consent_{c}" for c in CONSENT_CHANNELS]
            targets = [*_FIELD_COLUMNS, "attributes", *(f"consent_{c}" for c in CONSENT_CHANNELS)]
            cur.execute(f"""
                UPDATE audiences_contact c
                   SET {", ".join(f"{t} = {v}" for t, v in zip(targets, new_values, strict=True))}, updated_at = now()
                  FROM audiences_import_rows s
                 WHERE c.id = s.contact_id AND c.tenant_id = %(t)s
                   AND ({", ".join(new_values)}) IS DISTINCT FROM ({", ".join(old_values)})
                RETURNING c.id
            """, params)
            changed.update(r[0] for r in cur.fetchall())

        if new:
            insert_columns = ["id", "tenant_id", *_FIELD_COLUMNS, "attributes",
                              *(f"consent_{c}" for c in CONSENT_CHANNELS), "created_at", "updated_at"]
            insert_values = [
                "s.new_id", "%(t)s",
                *(f"COALESCE(s.{c}, '{ContactRole.CUSTOMER.value if c == 'role' else ''}')" for c in _FIELD_COLUMNS),
                "COALESCE(s.attributes, '{}'::jsonb)",
                *(f"COALESCE(s.c_{c}, 'unknown')" for c in CONSENT_CHANNELS), "now()", "now()"]
            insert = f"""
                INSERT INTO audiences_contact ({", ".join(insert_columns)})
                SELECT {", ".join(insert_values)} FROM audiences_import_rows s WHERE s.contact_id IS NULL
            """
            # A plain INSERT first: ON CONFLICT makes every row a speculative insertion (a probe of
            # each unique index and a lock before the row goes in, about 6 µs of a new contact's
            # 35). A conflict is rare (see below): the savepoint then undoes the chunk's insert
            # and it is done again the careful way.
            cur.execute("SAVEPOINT audiences_import_insert")
            try:
                cur.execute(insert, params)
            except IntegrityError:
                cur.execute("ROLLBACK TO SAVEPOINT audiences_import_insert")
                cur.execute(insert + " ON CONFLICT DO NOTHING", params)
            result.created = cur.rowcount
            cur.execute("RELEASE SAVEPOINT audiences_import_insert")
            if result.created < new:
                # Someone else saved one of these addresses after our lookup (not another import:
                # they wait for the lock). Leave those rows out of everything below.
                cur.execute("DELETE FROM audiences_import_rows s WHERE s.contact_id IS NULL AND NOT EXISTS "
                            "(SELECT 1 FROM audiences_contact c WHERE c.id = s.new_id) RETURNING row_number")
                result.rejected.extend((r[0], "Another contact with this address was saved at the same moment; "
                                              "import this row again") for r in cur.fetchall())
            consent_new = ", ".join(f"('{c}', s.c_{c})" for c in CONSENT_CHANNELS)
            cur.execute(f"""
                INSERT INTO audiences_consentevent
                    (tenant_id, contact_id, channel, state, previous_state, source, evidence, created_at)
                SELECT %(t)s, s.new_id, v.channel, v.new, 'unknown', 'import',
                       jsonb_build_object('import_job', %(job)s, 'row', s.row_number), now()
                  FROM audiences_import_rows s CROSS JOIN LATERAL (VALUES {consent_new}) AS v(channel, new)
                 WHERE s.contact_id IS NULL AND v.new IS NOT NULL AND v.new <> 'unknown'
            """, params)

        # Tags and list membership only ever grow; a new pair on an existing contact is an update.
        for who, condition in (("existing", "s.contact_id IS NOT NULL"), ("new", "s.contact_id IS NULL")):
            if not (existing if who == "existing" else new):
                continue
            contact = "s.contact_id" if who == "existing" else "s.new_id"
            returning = "RETURNING contact_id" if who == "existing" else ""
            selects = []
            if names:
                selects.append(f"""
                    SELECT {contact}, m.id FROM audiences_import_rows s
                     CROSS JOIN LATERAL unnest(string_to_array(s.tags, ',')) AS n(name)
                      JOIN unnest(%(names)s::text[], %(name_ids)s::uuid[]) AS m(name, id) ON m.name = n.name
                     WHERE {condition} AND s.tags IS NOT NULL""")
            if extra_tag_ids:
                selects.append(f"SELECT {contact}, x.id FROM audiences_import_rows s "
                               f"CROSS JOIN unnest(%(extra)s::uuid[]) AS x(id) WHERE {condition}")
            if selects:
                cur.execute(f"INSERT INTO audiences_contact_tags (contact_id, tag_id) {' UNION ALL '.join(selects)} "
                            f"ON CONFLICT DO NOTHING {returning}", params)
                if returning:
                    changed.update(r[0] for r in cur.fetchall())
            if job.add_to_list_id:
                cur.execute(f"""
                    INSERT INTO audiences_contactlist_contacts (contactlist_id, contact_id)
                    SELECT %(list)s, {contact} FROM audiences_import_rows s WHERE {condition}
                    ON CONFLICT DO NOTHING {returning}
                """, params)
                if returning:
                    changed.update(r[0] for r in cur.fetchall())
    result.updated = len(changed)
    result.unchanged = existing - result.updated
    return result


# --- any other database (SQLite in development): the same rules with bulk ORM queries ------------

def _apply_chunk_orm(job: ImportJob, staged: list[StagedRow], extra_tags: tuple[str, ...]) -> ChunkResult:
    tenant_id = job.tenant_id
    result = ChunkResult()
    tag_ids = _row_tag_ids(staged, extra_tags, tenant_id)
    emails = [r.values["email"] for r in staged if r.values.get("email")]
    phones = [r.values["phone"] for r in staged if r.values.get("phone")]
    by_email, by_phone = {}, {}
    for batch_start in range(0, max(len(emails), len(phones)), 500):
        for contact in Contact.objects.filter(tenant_id=tenant_id, email__in=emails[batch_start:batch_start + 500]):
            by_email[contact.email] = contact
        for contact in Contact.objects.filter(tenant_id=tenant_id, phone__in=phones[batch_start:batch_start + 500]):
            by_phone[contact.phone] = contact
    now = timezone.now()
    to_create, to_update, events, pairs = [], [], [], []
    existing_ids, changed_ids = set(), set()
    field_names = [*_FIELD_COLUMNS, "attributes", *(f"consent_{c}" for c in CONSENT_CHANNELS)]
    for row, tags in zip(staged, tag_ids, strict=True):
        values = row.values
        contact = (by_email if row.match_kind == "email" else by_phone).get(values[row.match_kind])
        conflict = next((kind for kind, index in (("email", by_email), ("phone", by_phone))
                         if values.get(kind) and values[kind] in index
                         and index[values[kind]].pk != getattr(contact, "pk", None)), None)
        if conflict:
            result.rejected.append((row.row_number, f"The {conflict} {values[conflict]} belongs to another contact"))
            continue
        evidence = {"import_job": str(job.pk), "row": row.row_number}
        if contact is None:
            contact = Contact(tenant_id=tenant_id, **values, attributes=row.attributes or {},
                              **{f"consent_{c}": s for c, s in row.consent.items()})
            to_create.append(contact)
            events += [ConsentEvent(tenant_id=tenant_id, contact=contact, channel=c, state=s,
                                    previous_state=ConsentState.UNKNOWN, source=ConsentSource.IMPORT,
                                    evidence=evidence) for c, s in row.consent.items()]
        else:
            existing_ids.add(contact.pk)
            before = [getattr(contact, f) for f in field_names]
            for c, s in row.consent.items():
                if getattr(contact, f"consent_{c}") != s:
                    events.append(ConsentEvent(tenant_id=tenant_id, contact=contact, channel=c, state=s,
                                               previous_state=getattr(contact, f"consent_{c}"),
                                               source=ConsentSource.IMPORT, evidence=evidence))
                    setattr(contact, f"consent_{c}", s)
            for name, value in values.items():
                setattr(contact, name, value)
            if row.attributes:
                contact.attributes = {**contact.attributes, **row.attributes}
            if [getattr(contact, f) for f in field_names] != before:
                contact.updated_at = now
                to_update.append(contact)
                changed_ids.add(contact.pk)
        # Later rows in the chunk see this contact by its addresses (the file has no duplicates).
        for kind, index in (("email", by_email), ("phone", by_phone)):
            if getattr(contact, kind):
                index[getattr(contact, kind)] = contact
        pairs.append((contact, tags))
    Contact.objects.bulk_create(to_create, batch_size=500)
    Contact.objects.bulk_update(to_update, [*field_names, "updated_at"], batch_size=500)
    ConsentEvent.objects.bulk_create(events, batch_size=500)
    result.created = len(to_create)
    contact_ids = [contact.pk for contact, _ in pairs]
    through = Contact.tags.through
    have = set(through.objects.filter(contact_id__in=contact_ids).values_list("contact_id", "tag_id"))
    new_pairs = [(contact.pk, tag) for contact, tags in pairs for tag in tags if (contact.pk, tag) not in have]
    through.objects.bulk_create([through(contact_id=c, tag_id=t) for c, t in new_pairs], batch_size=500)
    changed_ids.update(c for c, _ in new_pairs)
    if job.add_to_list_id:
        list_through = ContactList.contacts.through
        listed = set(list_through.objects.filter(contactlist_id=job.add_to_list_id, contact_id__in=contact_ids)
                     .values_list("contact_id", flat=True))
        list_through.objects.bulk_create([list_through(contactlist_id=job.add_to_list_id, contact_id=c)
                                          for c in contact_ids if c not in listed], batch_size=500)
        changed_ids.update(c for c in contact_ids if c not in listed)
    result.updated = len(existing_ids & changed_ids)
    result.unchanged = len(existing_ids) - result.updated
    return result
