"""`make bench` (bench_all): the benchmarks' figures end up in one markdown table with the machine."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_bench_all_writes_each_target_with_its_figure_and_verdict(tmp_path):
    out = tmp_path / "bench.md"
    call_command("bench_all", only="bench_dashboard", deliveries=2_000, out=str(out), stdout=io.StringIO())

    report = out.read_text()
    assert report.startswith("# Benchmarks: ")
    assert " cores, " in report.splitlines()[0] and "GiB" in report.splitlines()[0]
    # The server settings the figures depend on are stated with them.
    assert any(line.startswith("PostgreSQL: server_version ") and "shared_buffers " in line
               for line in report.splitlines())
    table = [line for line in report.splitlines() if line.startswith("| Dashboard < 200 ms with 2,000 deliveries")]
    assert len(table) == 3  # dashboard, 90-day dashboard, chart JSON
    for row in table:
        target, command, measured, status = [cell.strip() for cell in row.strip("|").split("|")]
        assert command == "`bench_dashboard --deliveries 2000 --drop`"
        assert measured.startswith("median ") and measured.endswith("0 queries on deliveries")
        assert status in ("met", "**not met**")
    assert "## bench_dashboard --deliveries 2000 --drop" in report  # the command's own output follows


def test_an_unknown_benchmark_name_is_refused(tmp_path):
    with pytest.raises(CommandError, match="Unknown benchmark"):
        call_command("bench_all", only="bench_everything", out=str(tmp_path / "x.md"))
