"""Who may see and change what: membership, roles, tenant isolation and feature flags."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

pytestmark = pytest.mark.django_db

_CONVERTER_SAMPLES = {"uuid": str(uuid.uuid4()), "int": "1", "slug": "x", "str": "x", "path": "x"}


def tenant_url_patterns():
    """Every route under /t/<tenant_slug>/, with sample values for its other parameters."""

    def walk(patterns, prefix):
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern) and isinstance(entry.pattern, RoutePattern):
                yield prefix + route

    for route in walk(get_resolver().url_patterns, "/"):
        if route.startswith("/t/<slug:tenant_slug>/"):
            yield route


def fill(route: str, slug: str) -> str:
    route = route.replace("<slug:tenant_slug>", slug)
    return re.sub(r"<(\w+):\w+>", lambda m: _CONVERTER_SAMPLES[m.group(1)], route)


TENANT_ROUTES = sorted(set(tenant_url_patterns()))


def test_there_are_tenant_routes_to_check():
    assert "/t/<slug:tenant_slug>/" in TENANT_ROUTES
    assert len(TENANT_ROUTES) >= 5


@pytest.mark.parametrize("route", TENANT_ROUTES)
def test_a_member_of_another_tenant_gets_404_on_every_tenant_url(route, tenant_a, owner, outsider_client):
    url = fill(route, tenant_a.slug)
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url).status_code == 404


@pytest.mark.parametrize("route", TENANT_ROUTES)
def test_an_analyst_cannot_change_anything(route, tenant_a, analyst_client):
    response = analyst_client.post(fill(route, tenant_a.slug), {"name": "x"})
    assert response.status_code == 403
    assert b"read-only" in response.content


def test_anonymous_visitors_are_sent_to_login(tenant_a, client):
    response = client.get(f"/t/{tenant_a.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/t/tenant-a/")


def test_unknown_workspace_slug_is_404(owner_client):
    assert owner_client.get("/t/no-such-workspace/").status_code == 404


def test_members_see_their_dashboard(tenant_a, owner_client):
    response = owner_client.get(f"/t/{tenant_a.slug}/")
    assert response.status_code == 200
    assert b"Tenant A" in response.content


def test_home_redirects_a_single_workspace_member_to_it(tenant_a, owner_client):
    response = owner_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant_a.slug}/"


def test_a_user_in_two_workspaces_can_switch_between_them(tenant_a, tenant_b, owner, owner_client):
    from tenants.models import Membership, Role
    from tenants.scoping import tenant_scope

    with tenant_scope(tenant_b):
        Membership.objects.create(tenant=tenant_b, user=owner, role=Role.ANALYST)
    chooser = owner_client.get("/")
    assert chooser.status_code == 200
    assert b"Tenant A" in chooser.content and b"Tenant B" in chooser.content
    page = owner_client.get(f"/t/{tenant_b.slug}/")
    assert page.status_code == 200
    # The header switcher links to both workspaces.
    assert b'href="/t/tenant-a/"' in page.content and b'href="/t/tenant-b/"' in page.content


def test_marketers_cannot_open_admin_only_pages(tenant_a, marketer_client):
    response = marketer_client.get(f"/t/{tenant_a.slug}/settings/api-keys/")
    assert response.status_code == 403
    assert b"Admin role" in response.content


def test_only_admins_change_workspace_settings(tenant_a, owner_client, marketer_client):
    data = {"name": "Renamed", "timezone": "Europe/Berlin", "default_phone_region": "DE", "currency": "EUR"}
    assert marketer_client.post(f"/t/{tenant_a.slug}/settings/", data).status_code == 403
    response = owner_client.post(f"/t/{tenant_a.slug}/settings/", data)
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.timezone) == ("Renamed", "Europe/Berlin")


def test_invalid_workspace_settings_re_render_with_messages(tenant_a, owner_client):
    data = {"name": "Acme", "timezone": "Mars/Olympus", "default_phone_region": "ZZ", "currency": "rupees"}
    response = owner_client.post(f"/t/{tenant_a.slug}/settings/", data)
    assert response.status_code == 200
    assert b"is not an IANA time zone" in response.content
    assert b"is not a phone region code" in response.content
    tenant_a.refresh_from_db()
    assert tenant_a.timezone == "Asia/Kolkata"


def test_campaign_pages_explain_when_campaigns_are_disabled(tenant_a, owner_client):
    tenant_a.campaigns_enabled = False
    tenant_a.save()
    response = owner_client.get(f"/t/{tenant_a.slug}/campaigns/")
    assert response.status_code == 200
    assert b"not enabled for Tenant A" in response.content


def test_django_admin_is_for_superusers_only(owner_client, django_user_model):
    assert owner_client.get("/admin/").status_code == 302  # redirected to admin login
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345-long")
    from django.test import Client

    client = Client()
    client.force_login(root)
    assert client.get("/admin/tenants/tenant/").status_code == 200


def test_admin_shows_tenant_flags_as_checkboxes(tenant_a, owner, django_user_model):
    from django.test import Client

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345-long")
    client = Client()
    client.force_login(root)
    page = client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    for flag in ("campaigns_enabled", "sms_enabled", "whatsapp_enabled", "ai_enabled"):
        assert f'type="checkbox" name="{flag}"' in page
    assert "owner" in page  # memberships inline
