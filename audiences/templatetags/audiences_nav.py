"""{% audiences_tabs %}: the sub-navigation of the Audiences section."""

from __future__ import annotations

from django import template

from audiences.models import ConsentState
from tenants.urls_helpers import tenant_reverse

register = template.Library()

TABS = (
    ("contacts", "Contacts", "audiences:index"),
    ("segments", "Segments", "audiences:segment_list"),
    ("lists", "Lists", "audiences:list_index"),
    ("tags", "Tags", "audiences:tag_list"),
    ("imports", "Imports", "audiences:imports"),
    ("suppressions", "Suppressions", "audiences:suppression_list"),
    ("telegram", "Telegram", "audiences:telegram_groups"),
)
# url_name prefixes -> tab, for pages that do not say which tab they belong to.
PREFIXES = (("segment", "segments"), ("import", "imports"), ("list", "lists"), ("tag", "tags"),
            ("suppression", "suppressions"), ("telegram", "telegram"))


def _current(request) -> str:
    url_name = getattr(request.resolver_match, "url_name", "") or ""
    if url_name == "export_segment":
        return "segments"
    for prefix, tab in PREFIXES:
        if url_name.startswith(prefix):
            return tab
    return "contacts"


@register.inclusion_tag("audiences/_tabs.html", takes_context=True)
def audiences_tabs(context, current: str = ""):
    request = context["request"]
    current = current or _current(request)
    tabs = []
    for key, label, name in TABS:
        url = tenant_reverse(request.tenant, name)
        tabs.append({"key": key, "label": label, "url": url, "current": key == current})
    return {"tabs": tabs}


@register.filter
def consent_state(contact, channel: str) -> str:
    return contact.consent(channel)


@register.filter
def consent_label(state: str) -> str:
    try:
        return ConsentState(state).label
    except ValueError:
        return state
