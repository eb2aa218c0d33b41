"""Formatting for reports: percentages that may be undefined, short durations, attribute lookup."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    """A rate in percent, or a dash when it is undefined (nothing to divide by)."""
    return "—" if value is None else f"{value:.1f}%"


@register.filter
def attr(obj, name: str):
    return getattr(obj, name)


@register.filter
def duration_short(value: dt.timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


@register.filter
def failing_count(configs) -> int:
    return sum(1 for c in configs if c.last_test_ok is False)
