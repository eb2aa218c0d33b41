"""Personalisation: a deliberately tiny, safe template language for message content.

    Hi {{ first_name | default: "there" }}, your {{ custom.plan }} renews in {{ city }}.

Only variable lookups with an optional quoted fallback exist: no tags, no filters, no attribute
access on objects, nothing that can read settings or run code. Templates are compiled once per
content and rendered per recipient with plain dict lookups (the hot path of dispatch). Errors are
found at compile time, so the wizard shows them inline and nothing fails at send time.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

CONTACT_VARIABLES = (
    "first_name", "last_name", "full_name", "email", "phone", "city", "pincode", "role",
    "locale", "timezone", "telegram_username",
)
CUSTOM_PREFIX = "custom."

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPR = re.compile(
    r"""^\s*(?P<name>[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_\-]+)?)\s*
        (?:\|\s*default\s*:\s*(?P<q>["'])(?P<fallback>.*?)(?P=q)\s*)?$""",
    re.VERBOSE | re.DOTALL,
)


class TemplateSyntaxError(ValueError):
    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class _Var:
    name: str
    fallback: str


@dataclass(frozen=True)
class CompiledTemplate:
    parts: tuple[str | _Var, ...]

    @property
    def variables(self) -> set[str]:
        return {p.name for p in self.parts if isinstance(p, _Var)}

    def render(self, context: Mapping[str, object], *, escape_html: bool = False) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _lookup(context, part.name)
            text = part.fallback if value in (None, "") else str(value)
            out.append(html.escape(text) if escape_html else text)
        return "".join(out)


    def render_tagged(self, tag) -> str:
        """The template with each variable replaced by tag(var) (batched email: substitution tags)."""
        return "".join(part if isinstance(part, str) else tag(part) for part in self.parts)


def _lookup(context: Mapping[str, object], name: str) -> object:
    if name.startswith(CUSTOM_PREFIX):
        custom = context.get("custom") or {}
        return custom.get(name[len(CUSTOM_PREFIX):]) if isinstance(custom, Mapping) else None
    return context.get(name)


def variable_value(context: Mapping[str, object], var: _Var) -> str:
    """What render() puts in place of `var` (before HTML escaping)."""
    value = _lookup(context, var.name)
    return var.fallback if value in (None, "") else str(value)


def compile_template(source: str) -> CompiledTemplate:
    """Parse `source`; raise TemplateSyntaxError with a human message and position."""
    parts: list[str | _Var] = []
    cursor = 0
    for match in _TAG.finditer(source):
        literal = source[cursor:match.start()]
        _check_stray_braces(literal, cursor)
        if literal:
            parts.append(literal)
        expr = _EXPR.match(match.group(1))
        if not expr:
            raise TemplateSyntaxError(
                f"Can't read “{{{{{match.group(1)}}}}}”. Write a variable such as "
                '{{ first_name }} or {{ first_name | default: "there" }}.',
                position=match.start(),
            )
        name = expr.group("name")
        if name not in CONTACT_VARIABLES and not name.startswith(CUSTOM_PREFIX):
            raise TemplateSyntaxError(
                f"Unknown variable “{name}”. Use one of: {', '.join(CONTACT_VARIABLES)}, or custom.<attribute>.",
                position=match.start(),
            )
        parts.append(_Var(name, expr.group("fallback") or ""))
        cursor = match.end()
    tail = source[cursor:]
    _check_stray_braces(tail, cursor)
    if tail:
        parts.append(tail)
    return CompiledTemplate(tuple(parts))


def _check_stray_braces(literal: str, offset: int) -> None:
    for token in ("{{", "}}", "{%", "%}"):
        index = literal.find(token)
        if index != -1:
            raise TemplateSyntaxError(
                f"Unclosed or stray “{token}” at character {offset + index + 1}. "
                "Variables look like {{ first_name }}.",
                position=offset + index,
            )


def template_errors(source: str) -> list[str]:
    """For forms: [] when `source` compiles, else one readable message."""
    try:
        compile_template(source or "")
    except TemplateSyntaxError as exc:
        return [str(exc)]
    return []


def contact_context(contact) -> dict[str, object]:
    """The variables a contact offers to templates (plain values only)."""
    first = getattr(contact, "first_name", "") or ""
    last = getattr(contact, "last_name", "") or ""
    return {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "email": getattr(contact, "email", "") or "",
        "phone": getattr(contact, "phone", "") or "",
        "city": getattr(contact, "city", "") or "",
        "pincode": getattr(contact, "pincode", "") or "",
        "role": getattr(contact, "role", "") or "",
        "locale": getattr(contact, "locale", "") or "",
        "timezone": getattr(contact, "timezone", "") or "",
        "telegram_username": getattr(contact, "telegram_username", "") or "",
        "custom": getattr(contact, "attributes", None) or getattr(contact, "custom_attributes", None) or {},
    }
