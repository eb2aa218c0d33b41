"""CSRF, swept over every URL route: a POST without a token is refused before any view runs.

The owner is logged in and already holds a CSRF cookie (as a victim's browser would), so the
forged POST lacks only the token a page of ours would have put in the form or the htmx header.
The few public endpoints that are CSRF-exempt on purpose are listed with the credential that
protects them instead; the test checks each one really is exempt and refuses a bogus credential.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from tests.security.routes import NON_ID_VALUES, Route, all_routes

pytestmark = pytest.mark.django_db

# Deliberately exempt: no session cookie is involved, so CSRF cannot apply; a secret in the URL,
# a signature or an API key is the credential instead.
CSRF_EXEMPT: dict[str, str] = {
    "channels_hook_urls:hook": "provider webhooks: server-to-server, authenticated by the config's "
                               "unguessable token and the provider's signature",
    "audiences_public:preferences": "preference centre: reached from a message without a session; "
                                    "the signed unsubscribe token is the credential",
    "audiences_public:one_click": "RFC 8058 one-click unsubscribe: mail clients POST without a session; "
                                  "the signed token is the credential",
    "channels_public_urls:push_subscribe": "push subscribe: an anonymous visitor's browser posts its "
                                           "subscription; the config's opaque token names the tenant",
    "api_conversions": "server-to-server API: authenticated by an API key header, never by cookies",
    "api:whoami": "server-to-server API: authenticated by an API key header, never by cookies",
    "journeys_api:events": "server-to-server events API: authenticated by an API key header, never by cookies",
}

# Admin and public routes' parameters (tenant routes' are in routes.NON_ID_VALUES).
SAMPLE_VALUES = {"object_id": "1", "content_type_id": "1", "id": "1", "token": "not-a-real-token"}

# Django admin's two regex routes (app index and catch-all) are covered by the admin routes
# beside them: the CSRF check runs before any admin view, whatever the path.
ROUTES = [r for r in all_routes() if not r.is_regex]


def _url(route: Route, slug: str) -> str:
    values = {}
    for _converter, name in route.params:
        if name == "tenant_slug":
            values[name] = slug
        elif name in NON_ID_VALUES:
            values[name] = NON_ID_VALUES[name][0]
        elif name in SAMPLE_VALUES:
            values[name] = SAMPLE_VALUES[name]
        elif name == "provider":
            values[name] = "sandbox"
        else:
            values[name] = str(uuid.uuid4())
    return route.url(values)


@pytest.fixture
def victim(owner) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.cookies[settings.CSRF_COOKIE_NAME] = _get_new_csrf_string()
    return client


def test_the_sweep_sees_the_whole_site():
    names = {r.name for r in ROUTES}
    assert {"login", "logout", "audiences:contact_create", "campaigns:bulk", "channels:delete",
            "tenants:api_keys", "admin:login"} <= names
    assert set(CSRF_EXEMPT) <= names, "an exempt route listed here no longer exists"
    assert [str(r) for r in all_routes() if r.is_regex and not r.name.startswith("admin")] == []


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name not in CSRF_EXEMPT], ids=str)
def test_a_post_without_a_csrf_token_is_refused(route, victim, tenant_a, caplog):
    url = _url(route, tenant_a.slug)
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        response = victim.post(url, {"name": "forged", "action": "delete"})
    assert response.status_code == 403, f"POST {url} without a CSRF token answered {response.status_code}"
    assert any("CSRF token missing" in r.getMessage() for r in caplog.records), (
        f"POST {url} was refused, but not by the CSRF check")


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT))
def test_the_deliberate_exemptions_are_exempt_and_refuse_a_bogus_credential(name, victim, tenant_a):
    route = next(r for r in ROUTES if r.name == name)
    assert getattr(route.view, "csrf_exempt", False), f"{route} is listed as exempt but is not"
    url = _url(route, tenant_a.slug)
    response = victim.post(url, {"List-Unsubscribe": "One-Click", "action": "all"},
                           HTTP_AUTHORIZATION="Bearer cpk_forged")
    if response.status_code == 405:  # a read-only API view: its key check is what guards it
        response = victim.get(url, HTTP_AUTHORIZATION="Bearer cpk_forged")
    # Not found (unknown token) or unauthorized (bad key): the session cookie alone opens nothing.
    assert response.status_code in (401, 404), f"{route} answered {response.status_code}"


def test_no_other_view_is_csrf_exempt():
    exempt = {r.name for r in ROUTES if getattr(r.view, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT)
