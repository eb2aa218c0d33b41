"""Every speed benchmark in one go, written as one markdown table (what `make bench` runs).

    python manage.py bench_all --contacts 1000000 --deliveries 10000000 --out var/bench.md

Runs each benchmark command in this process, in order, each printing its own figures as it goes;
then writes the machine (cores, memory), a table of target / command / measured / status built
from the rows each command recorded (config.benchmarks), and each command's full output below it.
A benchmark that fails outright is a row marked not met with its error; the others still run.
"""

from __future__ import annotations

import io
import os
import platform
import time
from pathlib import Path

from django.core.management import call_command, load_command_class
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from config.benchmarks import BenchResult, markdown_table, results_of

# (app, command, options); {contacts} and {deliveries} come from this command's arguments.
BENCHMARKS: list[tuple[str, str, dict]] = [
    ("channels", "bench_ratelimit", {"senders": 4, "seconds": 60}),
    ("channels", "bench_fakeproviders", {}),
    ("audiences", "bench_audience_preview", {"contacts": "{contacts}"}),
    ("audiences", "bench_import", {"rows": "{contacts}"}),
    ("campaigns", "bench_campaign", {"contacts": "{contacts}", "channels": "sms,email"}),
    ("analytics", "bench_dashboard", {"deliveries": "{deliveries}", "drop": True}),
]


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        return f"{kib / 1024 / 1024:.0f} GiB"
    except OSError:
        return "unknown memory"


def _server_settings() -> str:
    """The server settings the figures depend on most: a full scan of a million contacts is
    several times slower when the table does not fit in shared_buffers, and with a small
    max_wal_size checkpoints come every few seconds during bulk writes, each followed by full-page
    images of every page touched again."""
    names = ("server_version", "shared_buffers", "max_wal_size", "work_mem", "max_parallel_workers_per_gather",
             "autovacuum")
    with connection.cursor() as cursor:
        values = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            values.append(f"{name} {cursor.fetchone()[0]}")
    return ", ".join(values)


class Tee(io.TextIOBase):
    """Writes to the terminal as it goes and keeps a copy for the report."""

    def __init__(self, out) -> None:
        self.out, self.kept = out, io.StringIO()

    def write(self, text: str) -> int:
        self.out.write(text)
        self.out.flush()
        return self.kept.write(text)


class Command(BaseCommand):
    help = "Run every benchmark and write a markdown table of the results."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--contacts", type=int, default=1_000_000)
        parser.add_argument("--deliveries", type=int, default=10_000_000)
        parser.add_argument("--only", default="", help="comma-separated benchmark names to run (default: all)")
        parser.add_argument("--out", default="var/bench.md")

    def handle(self, *args, contacts: int, deliveries: int, only: str, out: str, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("The benchmarks need PostgreSQL and Redis (set DATABASE_URL and REDIS_URL).")
        chosen = {name.strip() for name in only.split(",") if name.strip()}
        unknown = chosen - {name for _app, name, _opts in BENCHMARKS}
        if unknown:
            raise CommandError(f"Unknown benchmark(s): {', '.join(sorted(unknown))}")
        rows: list[tuple[str, BenchResult]] = []
        outputs: list[tuple[str, str]] = []
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        for app, name, template in BENCHMARKS:
            if chosen and name not in chosen:
                continue
            opts = {k: (int(v.format(contacts=contacts, deliveries=deliveries)) if isinstance(v, str) and "{" in v
                        else v) for k, v in template.items()}
            command_line = " ".join([name] + [f"--{k}" if v is True else f"--{k} {v}" for k, v in opts.items()])
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {command_line}"))
            command = load_command_class(app, name)
            tee = Tee(self.stdout)
            try:
                call_command(command, stdout=tee, **opts)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                results_of(command).append(BenchResult(name, f"failed: {exc}", False))
                tee.write(f"FAILED: {exc!r}\n")
            rows += [(command_line, result) for result in results_of(command)]
            outputs.append((command_line, tee.kept.getvalue()))

        report = [f"# Benchmarks: {os.cpu_count()} cores, {_memory_gib()}, {platform.python_implementation()} "
                  f"{platform.python_version()}, started {started}", "",
                  f"Load average when it ended: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", "",
                  f"PostgreSQL: {_server_settings()}", "",
                  markdown_table(rows)]
        for command_line, text in outputs:
            report += [f"## {command_line}", "", "```", text.rstrip(), "```", ""]
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(report))
        self.stdout.write(markdown_table(rows))
        self.stdout.write(f"Written to {path}")
