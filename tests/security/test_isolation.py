"""Tenant isolation, swept over every /t/<slug>/ route the URL resolver knows.

The outsider is an admin of tenant B only. For each route that names an object, one object of
that kind is created in tenant A; the outsider asks for it through B's slug (the object must not
be found in B) and through A's slug (not a member: the workspace itself is not found), with GET
and POST, and nothing of tenant A may change.
"""

from __future__ import annotations

import pytest

from tests.security.factories import build_world, snapshot
from tests.security.routes import (
    ID_KINDS,
    expand,
    id_param,
    kind_of,
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
    kind = kind_of(route)
    if kind is None or kind not in world:
        pytest.fail(f"{route} takes an object id but has no factory: add it to ID_KINDS and build_world")
    object_id = str(world[kind].pk)
    before = snapshot(tenant_a)
    send = getattr(outsider_client, method)

    for url in expand(route, tenant_b.slug, object_id):
        status = send(url).status_code
        if status == 405:
            # The view refuses the method before any lookup: the same answer as for an unknown id.
            random_url = url.replace(object_id, "00000000-0000-4000-8000-000000000000")
            assert send(random_url).status_code == 405, url
        else:
            assert status == 404, f"{method.upper()} {url} answered {status} to a member of tenant B"

    for url in expand(route, tenant_a.slug, object_id):
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
    kind = kind_of(route)
    if kind is None or kind not in world:
        pytest.fail(f"{route} takes an object id but has no factory: add it to ID_KINDS and build_world")
    for url in expand(route, tenant_a.slug, str(world[kind].pk)):
        status = owner_client.get(url).status_code
        assert status < 400 or status == 405, f"GET {url} answered {status} to tenant A's owner"
