"""CSV exports that are safe to open in a spreadsheet.

A cell starting with =, +, -, @, a tab or a carriage return is a formula to Excel, LibreOffice and
Google Sheets ("CSV injection"): a contact named `=HYPERLINK(...)` would run in the marketer's
spreadsheet. Such cells get a leading apostrophe, which spreadsheets show as plain text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from tenants.scoping import tenant_scope

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        # Plain negative numbers stay numbers: only text that could be a formula is quoted.
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


class _Echo:
    """A file-like object whose write() returns the line, for streaming responses."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield CSV lines (header first) with every cell neutralized; feed to StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM so Excel reads UTF-8 (names in Hindi, accents) correctly
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(*, tenant, filename: str, header: Iterable[str],
                 rows: Callable[[], Iterable[Iterable[Any]]]) -> StreamingHttpResponse:
    """A streaming CSV download. The rows are read while the server sends the body, after the
    view (and the tenant middleware's scope) returned, so the generator enters the scope itself."""

    def stream() -> Iterator[str]:
        with tenant_scope(tenant):
            yield from csv_lines(header, rows())

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
