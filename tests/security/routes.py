"""Walk Django's URL resolver so the security sweeps cover every URL, including ones added later.

`all_routes()` flattens config/urls.py into Route objects (the full route text, name, view).
Tenant routes that take an object id are mapped to the kind of object they name by the prefix of
the route up to that id (ID_KINDS); a new route with an id that is not mapped makes the sweeps fail
with its route text, so nobody can add an object page the isolation sweep does not reach.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from campaigns.starters import STARTERS
from campaigns.views.detail import ACTIONS

TENANT_PREFIX = "t/<slug:tenant_slug>/"
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "t/<slug:tenant_slug>/audiences/contacts/<uuid:pk>/edit/"
    name: str  # e.g. "audiences:contact_edit"
    view: object
    is_regex: bool  # a regex pattern (only Django admin has them)

    @property
    def params(self) -> list[tuple[str, str]]:
        return [(m["converter"] or "str", m["name"]) for m in PARAM.finditer(self.route)]

    @property
    def is_tenant(self) -> bool:
        return self.route.startswith(TENANT_PREFIX)

    def url(self, values: dict[str, str]) -> str:
        return "/" + PARAM.sub(lambda m: str(values[m["name"]]), self.route)

    def __str__(self) -> str:
        return f"/{self.route} ({self.name})"


def _walk(patterns, prefix: str, namespace: str, is_regex: bool) -> Iterator[Route]:
    for p in patterns:
        regex = is_regex or not isinstance(p.pattern, RoutePattern)
        if isinstance(p, URLResolver):
            ns = ":".join(filter(None, [namespace, p.namespace]))
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns, regex)
        elif isinstance(p, URLPattern):
            name = ":".join(filter(None, [namespace, p.name or ""]))
            yield Route(prefix + str(p.pattern), name, p.callback, regex)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", "", False))


def tenant_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_tenant]


# Which kind of tenant object an id in a route names, by the route up to (and including) the id.
ID_KINDS: dict[str, str] = {
    "t/<slug:tenant_slug>/analytics/campaigns/<uuid:campaign_id>": "campaign",
    "t/<slug:tenant_slug>/settings/api-keys/<uuid:key_id>": "api_key",
    "t/<slug:tenant_slug>/audiences/contacts/export/segment/<uuid:pk>": "segment",
    "t/<slug:tenant_slug>/audiences/contacts/<uuid:pk>": "contact",
    "t/<slug:tenant_slug>/audiences/tags/<uuid:pk>": "tag",
    "t/<slug:tenant_slug>/audiences/lists/<uuid:pk>": "contact_list",
    "t/<slug:tenant_slug>/audiences/suppressions/<uuid:pk>": "suppression",
    "t/<slug:tenant_slug>/audiences/segments/<uuid:pk>": "segment",
    "t/<slug:tenant_slug>/audiences/imports/<uuid:pk>": "import_job",
    "t/<slug:tenant_slug>/channels/<uuid:pk>": "channel_config",
    "t/<slug:tenant_slug>/social/<uuid:pk>": "social_account",
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>": "campaign",
    "t/<slug:tenant_slug>/campaigns/templates/<uuid:template_id>": "template",
}

# Route parameters that are not object ids, with the values the sweeps try and why they are safe
# to share between tenants.
NON_ID_VALUES: dict[str, list[str]] = {
    "tenant_slug": [],  # filled by the sweep
    # A verb on the campaign named by campaign_id: each one is tried, all must 404 across tenants.
    "action": list(ACTIONS),
    # The starter catalogue is global, not tenant data; the route still sits behind membership.
    "key": sorted(STARTERS)[:1],
    # Channel and provider keys of the provider registry, global too.
    "channel": ["email"],
    "provider": ["sandbox"],
}


def id_param(route: Route) -> tuple[str, str] | None:
    """(kwarg name, route prefix up to it) of the object id in a tenant route, or None."""
    for m in PARAM.finditer(route.route):
        if m["name"] not in NON_ID_VALUES:
            return m["name"], route.route[: m.end()]
    return None


def kind_of(route: Route) -> str | None:
    found = id_param(route)
    return ID_KINDS.get(found[1]) if found else None


def unmapped_id_routes() -> list[str]:
    return [str(r) for r in tenant_routes() if id_param(r) and kind_of(r) is None]


def expand(route: Route, slug: str, object_id: str | None) -> list[str]:
    """Every URL to try for a route: one per value of each non-id parameter."""
    values: list[dict[str, str]] = [{}]
    for _converter, name in route.params:
        if name == "tenant_slug":
            choices = [slug]
        elif name in NON_ID_VALUES:
            choices = NON_ID_VALUES[name]
        else:
            choices = [object_id or str(uuid.uuid4())]
        values = [{**v, name: c} for v in values for c in choices]
    return [route.url(v) for v in values]
