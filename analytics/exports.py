"""CSV exports of a campaign: its report and its members (one row per delivery), streamed.

Spreadsheet formula injection (CWE-1236): a cell starting with = + - @ tab or CR is run as a
formula by Excel and LibreOffice, so such cells get a leading single quote. Members are read in
keyset pages by id, so memory stays flat however large the campaign is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from analytics.selectors import METRICS, report_rows
from campaigns.models import Campaign, Delivery

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PAGE = 2000


def csv_safe(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterable[Iterable], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    body = (writer.writerow([csv_safe(v) for v in row]) for row in rows)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def report_csv_rows(*, campaign: Campaign) -> Iterator[list]:
    rows, total = report_rows(campaign=campaign)
    header = ["Channel"]
    for _attr, label, rate, rate_label in METRICS:
        header.append(label)
        if rate:
            header.append(f"{rate_label} (%)")
    header += ["Total clicks", "Revenue", "Cost", "ROI (%)"]
    yield header
    for row in [*rows, total]:
        line = [row.label]
        for attr, _label, rate, _rate_label in METRICS:
            line.append(getattr(row, attr))
            if rate:
                line.append(_rate(getattr(row, rate)))
        line += [row.clicks_total, row.revenue, row.cost.quantize(Decimal("0.0001")), _rate(row.roi)]
        yield line


MEMBER_COLUMNS = (
    ("uuid", "Delivery"), ("channel", "Channel"), ("step", "Step"), ("contact__first_name", "First name"),
    ("contact__last_name", "Last name"), ("contact__email", "Email"), ("contact__phone", "Phone"),
    ("address", "Address"), ("status", "Status"), ("skip_reason", "Skip reason"), ("sent_at", "Sent at"),
    ("delivered_at", "Delivered at"), ("read_at", "Read at"), ("clicked_at", "Clicked at"),
    ("replied_at", "Replied at"), ("failed_at", "Failed at"), ("error_code", "Error code"),
    ("error_message", "Error message"), ("cost", "Cost"),
)


def members_csv_rows(*, campaign: Campaign) -> Iterator[list]:
    yield [label for _name, label in MEMBER_COLUMNS]
    fields = [name for name, _label in MEMBER_COLUMNS]
    last_id = 0
    while True:
        page = list(Delivery.objects.filter(campaign=campaign, is_test=False, id__gt=last_id)
                    .order_by("id").values_list("id", *fields)[:PAGE])
        if not page:
            return
        for row in page:
            yield list(row[1:])
        last_id = page[-1][0]


def export_filename(campaign: Campaign, kind: str) -> str:
    return f"{slugify(campaign.name) or 'campaign'}-{kind}.csv"
