"""Per-tenant API keys: shown once, stored hashed, revocable, and the only way into the API."""

from __future__ import annotations

import re

import pytest

from tenants.models import ApiKey
from tenants.scoping import tenant_scope
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db


def create_key_through_the_page(client, tenant, name="Shop backend") -> str:
    response = client.post(f"/t/{tenant.slug}/settings/api-keys/", {"name": name})
    assert response.status_code == 200
    match = re.search(rb'value="(cpk_[A-Za-z0-9_\-]+)"', response.content)
    assert match, "the new key is shown once on the page"
    return match.group(1).decode()


def test_an_admin_creates_a_key_that_is_shown_once_and_stored_hashed(tenant_a, owner_client):
    raw = create_key_through_the_page(owner_client, tenant_a)
    with tenant_scope(tenant_a):
        api_key = ApiKey.objects.get()
    assert raw not in (api_key.key_hash, api_key.prefix)
    assert api_key.key_hash == ApiKey.hash(raw)
    # The list page afterwards shows only the prefix, never the key.
    page = owner_client.get(f"/t/{tenant_a.slug}/settings/api-keys/").content.decode()
    assert raw not in page and api_key.prefix in page


def test_a_valid_key_authenticates_as_its_tenant_and_records_last_use(tenant_a, owner, client):
    with tenant_scope(tenant_a):
        api_key, raw = api_key_create(tenant=tenant_a, name="shop", actor=owner)
    response = client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["tenant"] == "tenant-a"
    with tenant_scope(tenant_a):
        api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer cpk_deadbeef_not-a-real-key", "Basic dXNlcjpwYXNz", "cpk_deadbeef_x"],
)
def test_missing_or_unknown_keys_get_401(header, client, tenant_a):
    kwargs = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/api/v1/whoami", **kwargs)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]


def test_a_revoked_key_gets_401_and_touches_nothing(tenant_a, owner, owner_client, client):
    with tenant_scope(tenant_a):
        api_key, raw = api_key_create(tenant=tenant_a, name="old", actor=owner)
    response = owner_client.post(f"/t/{tenant_a.slug}/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    with tenant_scope(tenant_a):
        api_key.refresh_from_db()
    assert api_key.last_used_at is None


def test_one_tenant_cannot_revoke_another_tenants_key(tenant_a, tenant_b, owner, outsider_client):
    with tenant_scope(tenant_a):
        api_key, _raw = api_key_create(tenant=tenant_a, name="a-key", actor=owner)
    response = outsider_client.post(f"/t/{tenant_b.slug}/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 404
    with tenant_scope(tenant_a):
        api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_an_empty_key_name_re_renders_with_a_message(tenant_a, owner_client):
    response = owner_client.post(f"/t/{tenant_a.slug}/settings/api-keys/", {"name": "  "})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    with tenant_scope(tenant_a):
        assert ApiKey.objects.count() == 0
