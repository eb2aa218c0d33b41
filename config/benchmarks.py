"""What each benchmark command reports to `manage.py bench_all`: one line per target it checks.

A benchmark command appends BenchResult rows to `self.results` as it finishes; bench_all runs the
commands in one process and writes their rows as one markdown table (var/bench.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchResult:
    target: str  # what the issue asks, e.g. "Dashboard < 200 ms with 10M deliveries (issue 7)"
    figure: str  # what was measured, e.g. "median 36 ms"
    met: bool


def results_of(command) -> list[BenchResult]:
    """The rows a benchmark command recorded (created on first use)."""
    if not hasattr(command, "results"):
        command.results = []
    return command.results


def markdown_table(rows: list[tuple[str, BenchResult]]) -> str:
    """rows: (command line, result)."""
    lines = ["| Target | Command | Measured | Status |", "|---|---|---|---|"]
    for command_line, result in rows:
        status = "met" if result.met else "**not met**"
        lines.append(f"| {result.target} | `{command_line}` | {result.figure} | {status} |")
    return "\n".join(lines) + "\n"
