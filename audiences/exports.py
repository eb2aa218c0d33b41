"""Streaming CSV: the writer (with spreadsheet formula injection neutralized) and contact rows.

A cell that starts with = + - @ (or a tab / carriage return, which some spreadsheets skip before
reading a formula) is run as a formula by Excel, LibreOffice and Google Sheets; OWASP's advice is
to prefix it with a single quote, which makes it plain text. Analytics reuses `csv_response`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from audiences.models import CONSENT_CHANNELS, Contact
from audiences.selectors import Cursor, older_than_q
from tenants.scoping import tenant_scope

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000


def neutralize(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so Excel reads UTF-8 names correctly
    yield writer.writerow([neutralize(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralize(cell) for cell in row])


def csv_response(filename: str, header: Iterable[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


CONTACT_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "role", "city", "pincode", "timezone", "locale",
                   "telegram_chat_id", "telegram_username", "tags", "attributes", "last_active_at", "created_at",
                   *(f"consent_{channel}" for channel in CONSENT_CHANNELS))


def _stamp(value) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


# Read as tuples, not model instances: building a million Contact objects costs more than the queries.
_FIELDS = ("pk", "first_name", "last_name", "email", "phone", "role", "city", "pincode", "timezone", "locale",
           "telegram_chat_id", "telegram_username", "attributes", "last_active_at", "created_at",
           *(f"consent_{channel}" for channel in CONSENT_CHANNELS))


def contact_rows(contacts: QuerySet[Contact], *, tenant_id: int, chunk_size: int = EXPORT_CHUNK) -> Iterator[list]:
    """Rows of CONTACT_COLUMNS, newest first, read in keyset chunks.

    The response streams after the view returned, outside the request's tenant scope, so each
    chunk's query runs in its own scope; a keyset chunk (not one long server-side cursor) keeps
    no transaction open while a slow client downloads."""
    through = Contact.tags.through
    cursor: Cursor | None = None
    while True:
        with tenant_scope(tenant_id):
            chunk = contacts.order_by("-created_at", "-pk")
            if cursor is not None:
                chunk = chunk.filter(older_than_q(cursor))
            batch = list(chunk.values_list(*_FIELDS)[:chunk_size])
            if not batch:
                return
            tags: dict = {}
            for contact_id, name in through.objects.filter(contact_id__in=[row[0] for row in batch]).order_by(
                    "tag__name").values_list("contact_id", "tag__name"):
                tags.setdefault(contact_id, []).append(name)
        for row in batch:
            pk, plain, (attributes, last_active_at, created_at), consents = row[0], row[1:12], row[12:15], row[15:]
            yield [pk, *plain, ", ".join(tags.get(pk, ())),
                   "; ".join(f"{k}={v}" for k, v in sorted(attributes.items())),
                   _stamp(last_active_at), _stamp(created_at), *consents]
        if len(batch) < chunk_size:
            return
        last = batch[-1]
        cursor = Cursor(created_at=last[_FIELDS.index("created_at")], pk=last[0])


def contacts_csv_response(contacts: QuerySet[Contact], *, tenant_id: int, filename: str) -> StreamingHttpResponse:
    return csv_response(filename, CONTACT_COLUMNS, contact_rows(contacts, tenant_id=tenant_id))
