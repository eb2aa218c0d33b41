"""Shared fixtures: two tenants and the personas every suite uses.

- owner: admin of tenant A;  marketer: marketer of A;  analyst: read-only member of A
- outsider: admin of tenant B, who must get 404 for everything of A
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tenants.models import Membership, Role, Tenant
from tenants.scoping import tenant_scope

PASSWORD = "correct-horse-battery"

# `fake_providers` and `fakes`: the local fake provider server, for every suite.
pytest_plugins = ["tests.fake_providers"]


def pytest_sessionstart(session):
    """Under CI (REQUIRE_SERVICES=1) a missing PostgreSQL or Redis fails the run, never skips."""
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return
    from django.conf import settings

    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL is not set")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:  # noqa: BLE001 - any failure means the service is unusable
            problems.append(f"Redis unreachable at {settings.REDIS_URL}: {exc}")
    if problems:
        pytest.exit("Required services missing: " + "; ".join(problems), returncode=1)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """PBKDF2's deliberate slowness (most of a second per user here) is not what the tests test."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _make_tenant(slug: str, name: str, tz: str, region: str, **flags) -> Tenant:
    return Tenant.objects.create(slug=slug, name=name, timezone=tz, default_phone_region=region, **flags)


def _make_member(tenant: Tenant, username: str, role: str):
    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD)
    with tenant_scope(tenant):
        Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _make_tenant("tenant-a", "Tenant A", "Asia/Kolkata", "IN", ai_enabled=True)


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _make_tenant("tenant-b", "Tenant B", "America/New_York", "US", ai_enabled=True)


@pytest.fixture
def owner(tenant_a):
    return _make_member(tenant_a, "owner", Role.ADMIN)


@pytest.fixture
def marketer(tenant_a):
    return _make_member(tenant_a, "marketer", Role.MARKETER)


@pytest.fixture
def analyst(tenant_a):
    return _make_member(tenant_a, "analyst", Role.ANALYST)


@pytest.fixture
def outsider(tenant_b):
    return _make_member(tenant_b, "outsider", Role.ADMIN)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def marketer_client(marketer) -> Client:
    return _client_for(marketer)


@pytest.fixture
def analyst_client(analyst) -> Client:
    return _client_for(analyst)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


@pytest.fixture
def in_tenant_a(tenant_a):
    """Run the test body inside tenant A's scope (for service and model tests)."""
    with tenant_scope(tenant_a):
        yield tenant_a
