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
            batch = list(chunk[:chunk_size])
            if not batch:
                return
            tags: dict = {}
            for contact_id, name in through.objects.filter(contact_id__in=[c.pk for c in batch]).order_by(
                    "tag__name").values_list("contact_id", "tag__name"):
                tags.setdefault(contact_id, []).append(name)
        for c in batch:
            yield [c.pk, c.first_name, c.last_name, c.email, c.phone, c.role, c.city, c.pincode, c.timezone,
                   c.locale, c.telegram_chat_id, c.telegram_username, ", ".join(tags.get(c.pk, [])),
                   "; ".join(f"{k}={v}" for k, v in sorted(c.attributes.items())),
                   _stamp(c.last_active_at), _stamp(c.created_at),
                   *(c.consent(channel) for channel in CONSENT_CHANNELS)]
        if len(batch) < chunk_size:
            return
        cursor = Cursor.of(batch[-1])


def contacts_csv_response(contacts: QuerySet[Contact], *, tenant_id: int, filename: str) -> StreamingHttpResponse:
    return csv_response(filename, CONTACT_COLUMNS, contact_rows(contacts, tenant_id=tenant_id))
