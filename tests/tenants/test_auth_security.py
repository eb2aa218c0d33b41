"""Login, throttling, CSRF with htmx, and the security headers every page carries."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str, ip: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_a_member_logs_in_and_out(tenant_a, owner):
    client = Client()
    response = login(client, "owner", PASSWORD, "10.0.0.1")
    assert response.status_code == 302
    assert client.get(f"/t/{tenant_a.slug}/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get(f"/t/{tenant_a.slug}/").status_code == 302


def test_wrong_password_re_renders_the_form_with_a_message(owner):
    response = login(Client(), "owner", "nope", "10.0.0.1")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_throttling_locks_the_username_and_ip_pair_not_the_whole_office(owner, marketer, settings):
    office_ip = "203.0.113.7"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(Client(), "owner", "wrong", office_ip)
    # The attacked account is locked from that IP, even with the right password...
    locked = login(Client(), "owner", PASSWORD, office_ip)
    assert locked.status_code == 429
    assert b"Too many failed attempts" in locked.content
    # ...a colleague behind the same IP still gets in...
    assert login(Client(), "marketer", PASSWORD, office_ip).status_code == 302
    # ...and the owner can still log in from elsewhere.
    assert login(Client(), "owner", PASSWORD, "198.51.100.9").status_code == 302


def test_state_changing_requests_without_a_csrf_token_are_refused(tenant_a, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(f"/t/{tenant_a.slug}/settings/api-keys/", {"name": "x"})
    assert response.status_code == 403


def test_htmx_requests_carry_the_csrf_token_from_the_body(tenant_a, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get(f"/t/{tenant_a.slug}/settings/api-keys/").content.decode()
    match = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page)
    assert match, "body carries hx-headers with the CSRF token"
    response = client.post(
        f"/t/{tenant_a.slug}/settings/api-keys/", {"name": "from htmx"},
        HTTP_X_CSRFTOKEN=match.group(1), HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"cpk_" in response.content


def test_pages_send_a_nonce_based_csp_and_have_no_inline_scripts(tenant_a, owner_client):
    response = owner_client.get(f"/t/{tenant_a.slug}/settings/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, f"inline script found: {tag}"
    assert " style=" not in html
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_403_page_is_friendly(tenant_a, analyst_client):
    response = analyst_client.post(f"/t/{tenant_a.slug}/settings/", {"name": "x"})
    assert response.status_code == 403
    assert b"You can't do that here" in response.content
    assert b"Analyst (read-only)" in response.content


def test_password_change_works(owner_client):
    response = owner_client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "a-brand-new-pass-42", "new_password2": "a-brand-new-pass-42"},
    )
    assert response.status_code == 302
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="owner").check_password("a-brand-new-pass-42")
