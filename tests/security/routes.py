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
from campaigns.views.wizard import STEP_KEYS as WIZARD_STEPS

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


# Which kind of tenant object an id in a route names, by the route up to (and including) that id,
# or a longer stretch of the route where the kind depends on what follows the id (the longest wins).
# A route with two ids (a campaign's workflow step) maps each of them.
ID_KINDS: dict[str, str] = {
    "t/<slug:tenant_slug>/analytics/campaigns/<uuid:campaign_id>": "campaign",
    "t/<slug:tenant_slug>/settings/api-keys/<uuid:key_id>": "api_key",
    "t/<slug:tenant_slug>/audiences/contacts/export/segment/<uuid:pk>": "segment",
    "t/<slug:tenant_slug>/audiences/contacts/<uuid:pk>": "contact",
    "t/<slug:tenant_slug>/audiences/contacts/delete-jobs/<uuid:pk>": "contact_delete_job",
    "t/<slug:tenant_slug>/audiences/tags/<uuid:pk>": "tag",
    "t/<slug:tenant_slug>/audiences/lists/<uuid:pk>": "contact_list",
    "t/<slug:tenant_slug>/audiences/suppressions/<uuid:pk>": "suppression",
    "t/<slug:tenant_slug>/audiences/segments/<uuid:pk>": "segment",
    "t/<slug:tenant_slug>/audiences/imports/<uuid:pk>": "import_job",
    "t/<slug:tenant_slug>/audiences/telegram/groups/<uuid:pk>": "telegram_group",
    "t/<slug:tenant_slug>/audiences/telegram/subscribers/<uuid:pk>": "telegram_subscriber",
    "t/<slug:tenant_slug>/channels/<uuid:pk>": "channel_config",
    "t/<slug:tenant_slug>/social/<uuid:pk>": "social_account",
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>": "campaign",
    "t/<slug:tenant_slug>/campaigns/<uuid:pk>": "campaign",
    # A broadcast has no workflow: these routes are about a drip campaign and its steps.
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>/workflow": "journey_campaign",
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>/workflow/steps/<uuid:step_id>": "workflow_step",
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>/ai/triggers/<uuid:trigger_id>": "autoreply_trigger",
    "t/<slug:tenant_slug>/campaigns/<uuid:campaign_id>/ai/handovers/<uuid:reply_id>": "autoreply_handover",
    "t/<slug:tenant_slug>/campaigns/handovers/<uuid:reply_id>": "autoreply_handover",
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
    # The wizard's step names: every step of another tenant's campaign must 404.
    "step": list(WIZARD_STEPS),
}


def id_params(route: Route) -> list[tuple[str, str]]:
    """(kwarg name, route prefix up to it) of each object id in a tenant route, outermost first."""
    return [(m["name"], route.route[: m.end()]) for m in PARAM.finditer(route.route)
            if m["name"] not in NON_ID_VALUES]


def id_param(route: Route) -> tuple[str, str] | None:
    """The outermost object id of a tenant route (the object the route is about), or None."""
    found = id_params(route)
    return found[0] if found else None


def _kind_at(route: Route, prefix: str) -> str | None:
    keys = [k for k in ID_KINDS if k.startswith(prefix) and route.route.startswith(k)
            and not PARAM.search(k[len(prefix):])]
    return ID_KINDS[max(keys, key=len)] if keys else None


def id_kinds(route: Route) -> dict[str, str | None]:
    """{kwarg name: kind of object} for each object id of a route (None where unmapped)."""
    return {name: _kind_at(route, prefix) for name, prefix in id_params(route)}


def kind_of(route: Route) -> str | None:
    """The kind of the outermost object a route names, or None."""
    kinds = id_kinds(route)
    return next(iter(kinds.values())) if kinds else None


def unmapped_id_routes() -> list[str]:
    return [str(r) for r in tenant_routes() if None in id_kinds(r).values()]


def expand(route: Route, slug: str, world: dict[str, object] | None) -> list[str]:
    """Every URL to try for a route: one per value of each non-id parameter.

    Each object id is filled with the pk of `world`'s object of that kind (a random uuid without a
    world, or for a kind the world lacks: the sweeps that need one check it is there).
    """
    ids = {}
    for name, kind in id_kinds(route).items():
        obj = (world or {}).get(kind or "")
        ids[name] = str(obj.pk) if obj is not None else str(uuid.uuid4())
    values: list[dict[str, str]] = [{}]
    for _converter, name in route.params:
        if name == "tenant_slug":
            choices = [slug]
        elif name in NON_ID_VALUES:
            choices = NON_ID_VALUES[name]
        else:
            choices = [ids[name]]
        values = [{**v, name: c} for v in values for c in choices]
    return [route.url(v) for v in values]
