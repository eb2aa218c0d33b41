"""Tenant isolation, swept over every /t/<slug>/ route the URL resolver knows.

The outsider is an admin of tenant B only. For each route that names an object, one object of
that kind is created in tenant A; the outsider asks for it through B's slug (the object must not
be found in B) and through A's slug (not a member: the workspace itself is not found), with GET
and POST, and nothing of tenant A may change.
"""

from __future__ import annotations

import pytest

from audiences.views.contacts import BULK_ACTIONS as CONTACT_BULK_ACTIONS
from campaigns.services_grid import BULK_ACTIONS as CAMPAIGN_BULK_ACTIONS
from tests.security.factories import build_world, snapshot
from tests.security.routes import (
    ID_KINDS,
    NON_ID_VALUES,
    all_routes,
    expand,
    id_kinds,
    id_param,
    tenant_routes,
    unmapped_id_routes,
)

pytestmark = pytest.mark.django_db

ID_ROUTES = [r for r in tenant_routes() if id_param(r)]
METHODS = ["get", "post"]


@pytest.fixture
def world(tenant_a, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build_world(tenant_a, actor=owner, text="Tenant A secret")


def test_every_tenant_route_with_an_object_id_is_mapped_to_a_kind():
    # A new object page must be added to ID_KINDS (and factories.build_world) to be swept.
    assert unmapped_id_routes() == []


def require_factories(route, world) -> None:
    missing = [kind for kind in id_kinds(route).values() if kind not in world]
    if missing:
        pytest.fail(f"{route} takes an object id but has no factory for {missing}: add it to build_world")


def test_every_kind_has_a_factory(world):
    assert set(ID_KINDS.values()) - set(world) == set()


def test_the_sweep_covers_the_routes_it_claims():
    # Guards against the walker silently finding nothing (e.g. after a urls.py restructure).
    names = {r.name for r in ID_ROUTES}
    assert {"audiences:contact_detail", "campaigns:action", "channels:delete", "tenants:api_key_revoke",
            "analytics:campaign_report_csv", "audiences:import_errors", "social_accounts:disconnect"} <= names


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_an_outsider_gets_404_for_tenant_a_objects(route, method, world, tenant_a, tenant_b, outsider_client):
    require_factories(route, world)
    before = snapshot(tenant_a)
    send = getattr(outsider_client, method)

    for url, random_url in zip(expand(route, tenant_b.slug, world), expand(route, tenant_b.slug, None), strict=True):
        status = send(url).status_code
        if status == 405:
            # The view refuses the method before any lookup: the same answer as for an unknown id.
            assert send(random_url).status_code == 405, url
        else:
            assert status == 404, f"{method.upper()} {url} answered {status} to a member of tenant B"

    for url in expand(route, tenant_a.slug, world):
        status = send(url).status_code
        assert status == 404, f"{method.upper()} {url} answered {status} to a non-member"

    assert snapshot(tenant_a) == before, f"{method.upper()} {route} changed tenant A's data"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", [r for r in tenant_routes() if not id_param(r)], ids=str)
def test_a_non_member_gets_404_for_every_page_of_the_workspace(route, method, tenant_a, outsider_client):
    for url in expand(route, tenant_a.slug, None):
        status = getattr(outsider_client, method)(url).status_code
        assert status == 404, f"{method.upper()} {url} answered {status} to a non-member"


@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_control_the_owner_reaches_every_object_url_the_sweep_builds(route, world, tenant_a, owner_client):
    # Without this, a wrongly built URL would also answer 404 and the sweep would prove nothing.
    require_factories(route, world)
    for url in expand(route, tenant_a.slug, world):
        status = owner_client.get(url).status_code
        assert status < 400 or status == 405, f"GET {url} answered {status} to tenant A's owner"


# --- ids of tenant A smuggled into tenant B's own forms, filters and bulk actions --------------

BULK_ACTIONS = sorted({*CONTACT_BULK_ACTIONS, *CAMPAIGN_BULK_ACTIONS, "export"})
# Every field name our forms, filters and bulk actions use to carry an object id.
ID_FIELDS = ("ids", "id", "pk", "tag", "tags", "add_tags", "list", "lists", "add_to_list", "segment", "campaign",
             "campaigns", "contact", "contacts", "template", "template_id", "channel_config", "config", "social",
             "header_media")


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


@pytest.mark.parametrize("route", tenant_routes(), ids=str)
def test_tenant_a_ids_inside_tenant_b_requests_touch_and_reveal_nothing(route, world, tenant_a, tenant_b, outsider,
                                                                        outsider_client):
    own = build_world(tenant_b, actor=outsider, text="Tenant B own")
    a_ids = [str(obj.pk) for obj in world.values()]
    before = snapshot(tenant_a)
    actions = BULK_ACTIONS if "bulk" in route.name else ["all"]
    for url in expand(route, tenant_b.slug, own):
        for action in actions:
            body = {**dict.fromkeys(ID_FIELDS, a_ids), "action": action, "confirmed": "yes", "scope": "selected"}
            for response in (outsider_client.get(url, body), outsider_client.post(url, body, follow=True)):
                assert response.status_code < 500, f"{url} {action}: {response.status_code}"
                assert "Tenant A secret" not in _body(response), f"{url} {action} shows tenant A's data"
    assert snapshot(tenant_a) == before, f"{route} let tenant B change tenant A's data"


@pytest.mark.parametrize("route", ID_ROUTES + [r for r in tenant_routes() if not id_param(r)], ids=str)
def test_an_analyst_changes_nothing_anywhere(route, world, tenant_a, analyst_client):
    before = snapshot(tenant_a)
    for url in expand(route, tenant_a.slug, world):
        for method in ("post", "put", "patch", "delete"):
            status = getattr(analyst_client, method)(url).status_code
            assert status == 403, f"{method.upper()} {url} answered {status} to a read-only analyst"
    assert snapshot(tenant_a) == before


# --- anonymous visitors ---------------------------------------------------------------------

# Routes a visitor without a session may reach, and what guards them instead of a login.
PUBLIC = {
    "healthz": "load balancer probe: answers 'ok', reveals nothing",
    "login": "the login page itself (throttled by django-axes)",
    "admin:login": "Django admin's login page (staff only past it)",
    "admin:logout": "logging out without a session does nothing",
    "api_conversions": "API: an API key is required (401 otherwise)",
    "api:whoami": "API: an API key is required (401 otherwise)",
    "journeys_api:events": "events API: an API key is required (401 otherwise)",
    "channels_hook_urls:hook": "provider webhooks: unguessable per-config token + provider signature",
    "channels_public_urls:push_page": "public push opt-in page: unguessable per-config token",
    "channels_public_urls:push_service_worker": "its service worker: same token",
    "channels_public_urls:push_subscribe": "its subscribe endpoint: same token",
    "audiences_public:preferences": "preference centre: signed per-contact token",
    "audiences_public:one_click": "one-click unsubscribe: signed per-contact token",
    "tracking:click": "click redirect: signed per-delivery token",
    "tracking:open": "open pixel: signed per-delivery token",
    "media_public": "campaign media providers fetch (images, recordings): random UUID per file + its name",
}
ANONYMOUS_SAMPLES = {"object_id": "1", "content_type_id": "1", "id": "1", "token": "not-a-token",
                     "provider": "sandbox"}


@pytest.mark.parametrize("route", [r for r in all_routes() if not r.is_regex], ids=str)
def test_anonymous_visitors_are_sent_to_a_login_page_except_on_the_public_endpoints(route, tenant_a, client):
    values = {name: ANONYMOUS_SAMPLES.get(name) or (NON_ID_VALUES.get(name) or [""])[0] or
              "00000000-0000-4000-8000-000000000000" for _c, name in route.params}
    values["tenant_slug"] = tenant_a.slug
    for method in ("get", "post"):
        response = getattr(client, method)(route.url(values))
        if route.name in PUBLIC:
            # Without its credential a public endpoint reveals nothing: not found, refused or a bare page.
            assert response.status_code in (200, 302, 401, 403, 404, 405), route
            continue
        if response.status_code == 405:
            continue
        assert response.status_code == 302, f"{method.upper()} {route} answered {response.status_code} anonymously"
        assert "/login/" in response["Location"], f"{route} redirected to {response['Location']}"


def test_only_superusers_see_the_whole_deployment(owner_client):
    assert owner_client.get("/ops/").status_code == 403
