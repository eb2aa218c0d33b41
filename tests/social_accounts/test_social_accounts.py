"""Social accounts: connect, test through the platform adapters (fake platforms over real HTTP),
status badges, the attention banner and the periodic re-check."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from social_accounts.models import SocialAccount, Status
from social_accounts.selectors import social_accounts_needing_attention
from social_accounts.services import (
    social_account_check,
    social_account_connect,
    social_accounts_recheck,
)
from tenants.scoping import tenant_scope
from tests.channels.providers.fake_hub import hub_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

GOOD = "good-token"
EXPIRED = "expired-token"  # the fake platforms answer it with their own expired-token errors
PAGE_ID = "104857600"


def url(tenant, suffix=""):
    return f"/t/{tenant.slug}/social/{suffix}"


def connect(tenant, *, platform="facebook", handle="Acme Retail", account_id=PAGE_ID, token=GOOD, expires=None,
            check=True) -> SocialAccount:
    with tenant_scope(tenant):
        return social_account_connect(tenant=tenant, platform=platform, handle=handle, account_id=account_id,
                                      credentials={"access_token": token}, token_expires_at=expires, check=check)


def test_connecting_a_facebook_page_tests_it_through_the_graph_api(tenant_a, owner_client, hub, caplog):
    with caplog.at_level(logging.DEBUG):
        response = owner_client.post(url(tenant_a, "connect/"), {
            "platform": "facebook", "handle": "Acme Retail", "account_id": PAGE_ID,
            "access_token": "good-token"})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        account = SocialAccount.objects.get()
    assert account.status == Status.CONNECTED and account.last_checked_at is not None
    assert account.get_secrets() == {"access_token": "good-token"}
    assert [c["path"] for c in hub.received("facebook")] == [f"/facebook/v21.0/{PAGE_ID}"]
    page = owner_client.get(response["Location"]).content.decode()
    assert "badge-connected" in page and "Checked" in page
    assert 'value="good-token"' not in page


@pytest.mark.parametrize(("platform", "account_id", "status"), [
    ("facebook", PAGE_ID, Status.EXPIRED),              # Graph 190 "Session has expired"
    ("instagram", "17841400000000001", Status.EXPIRED),
    ("x", "", Status.DISCONNECTED),                      # X answers a bare 401
    ("linkedin", "urn:li:organization:2414183", Status.DISCONNECTED),
])
def test_a_token_the_platform_rejects_shows_expired_or_disconnected(tenant_a, hub, platform, account_id, status):
    account = connect(tenant_a, platform=platform, account_id=account_id, token=EXPIRED)
    assert account.status == status
    assert account.status_message  # the platform's own words
    with tenant_scope(tenant_a):
        assert social_accounts_needing_attention(tenant_a) == [account]


def test_a_platform_outage_is_an_error_not_a_disconnection(tenant_a, hub):
    hub.fault("facebook", status=500, count=1, message="Service temporarily unavailable")
    account = connect(tenant_a)
    assert account.status == Status.ERROR
    with tenant_scope(tenant_a):
        assert social_accounts_needing_attention(tenant_a) == []


def test_a_token_past_its_expiry_is_expired_without_calling_the_platform(tenant_a, hub):
    account = connect(tenant_a, expires=timezone.now() - timedelta(hours=1))
    assert account.status == Status.EXPIRED and "Reconnect" in account.status_message
    assert hub.received("facebook") == []


def test_every_social_page_warns_about_expired_or_disconnected_accounts(tenant_a, owner_client, hub):
    good = connect(tenant_a, handle="Acme Retail")
    connect(tenant_a, platform="x", handle="@acme", account_id="", token=EXPIRED)
    for page in (url(tenant_a), url(tenant_a, "connect/"), url(tenant_a, f"{good.pk}/")):
        html = owner_client.get(page).content.decode()
        assert "can't post" in html and "X @acme" in html, page


def test_no_banner_when_every_account_works(tenant_a, owner_client, hub):
    connect(tenant_a)
    assert "can't post" not in owner_client.get(url(tenant_a)).content.decode()


def test_the_periodic_recheck_flags_tokens_expiring_within_seven_days(tenant_a, hub, owner_client):
    soon = connect(tenant_a, handle="Soon", expires=timezone.now() + timedelta(days=3))
    later = connect(tenant_a, handle="Later", expires=timezone.now() + timedelta(days=30))
    with tenant_scope(tenant_a):
        counts = social_accounts_recheck(tenant=tenant_a)
        soon.refresh_from_db()
        later.refresh_from_db()
    assert counts == {"connected": 2}
    assert soon.expiring_soon and not later.expiring_soon
    assert "Token expiring soon" in owner_client.get(url(tenant_a)).content.decode()


def test_the_periodic_recheck_marks_accounts_whose_token_has_since_expired(tenant_a, hub):
    account = connect(tenant_a, expires=timezone.now() + timedelta(days=1))
    with tenant_scope(tenant_a):
        social_accounts_recheck(tenant=tenant_a, now=timezone.now() + timedelta(days=2))
        account.refresh_from_db()
    assert account.status == Status.EXPIRED


def test_the_recheck_task_runs_per_tenant_inside_its_scope(tenant_a, tenant_b, hub, django_capture_on_commit_callbacks):
    from social_accounts.tasks import social_accounts_recheck_all_task, social_accounts_recheck_task

    connect(tenant_a)
    connect(tenant_b, handle="Globex")
    with django_capture_on_commit_callbacks() as callbacks:
        assert social_accounts_recheck_all_task() == 2
    assert len(callbacks) == 2
    hub.reset()
    assert social_accounts_recheck_task(tenant_a.pk) == {"connected": 1}
    assert len(hub.received("facebook")) == 1


def test_reconnecting_with_a_new_token_replaces_it_and_blank_keeps_it(tenant_a, owner_client, hub):
    account = connect(tenant_a, token=EXPIRED)
    assert account.status == Status.EXPIRED
    data = {"handle": "Acme Retail", "account_id": PAGE_ID, "access_token": ""}
    owner_client.post(url(tenant_a, f"{account.pk}/"), data)
    with tenant_scope(tenant_a):
        account.refresh_from_db()
    assert account.get_secrets() == {"access_token": EXPIRED} and account.status == Status.EXPIRED
    owner_client.post(url(tenant_a, f"{account.pk}/"), {**data, "access_token": GOOD})
    with tenant_scope(tenant_a):
        account.refresh_from_db()
    assert account.get_secrets() == {"access_token": GOOD} and account.status == Status.CONNECTED
    assert account.platform == "facebook"


def test_marketers_can_test_but_not_connect_or_change(tenant_a, marketer_client, hub):
    account = connect(tenant_a)
    assert marketer_client.get(url(tenant_a)).status_code == 200
    assert marketer_client.get(url(tenant_a, "connect/")).status_code == 403
    assert marketer_client.post(url(tenant_a, f"{account.pk}/"), {"handle": "x"}).status_code == 403
    assert marketer_client.post(url(tenant_a, f"{account.pk}/disconnect/")).status_code == 403
    response = marketer_client.post(url(tenant_a, f"{account.pk}/test/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"badge-connected" in response.content


def test_disconnect_erases_the_credentials(tenant_a, owner_client, hub):
    account = connect(tenant_a)
    owner_client.post(url(tenant_a, f"{account.pk}/disconnect/"))
    with tenant_scope(tenant_a):
        account.refresh_from_db()
    assert account.status == Status.DISCONNECTED and account.secrets_ciphertext == ""


def test_another_tenants_account_is_404(tenant_a, tenant_b, owner_client, hub):
    foreign = connect(tenant_b, handle="Globex")
    assert owner_client.get(url(tenant_a, f"{foreign.pk}/")).status_code == 404
    assert owner_client.post(url(tenant_a, f"{foreign.pk}/delete/")).status_code == 404


def test_the_access_token_is_unreadable_in_the_database_and_absent_from_pages(tenant_a, owner_client, hub,
                                                                               django_user_model):
    secret = "EAAG-very-secret-page-token-31337"
    account = connect(tenant_a, token=secret, check=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets_ciphertext FROM social_accounts_socialaccount")
        [(raw,)] = cursor.fetchall()
    assert secret not in raw
    from django.test import Client

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345-long")
    admin = Client()
    admin.force_login(root)
    pages = [owner_client.get(url(tenant_a)).content.decode(),
             owner_client.get(url(tenant_a, f"{account.pk}/")).content.decode(),
             admin.get("/admin/social_accounts/socialaccount/").content.decode(),
             admin.get(f"/admin/social_accounts/socialaccount/{account.pk}/change/").content.decode()]
    for page in pages:
        assert secret not in page
    assert "••••1337" in pages[1]


def test_social_pages_explain_when_the_social_channel_is_off(tenant_a, owner_client):
    tenant_a.social_enabled = False
    tenant_a.save()
    response = owner_client.get(url(tenant_a))
    assert response.status_code == 200 and b"not enabled" in response.content


def test_a_whatsapp_number_is_checked_through_the_cloud_api(tenant_a, hub):
    account = connect(tenant_a, platform="whatsapp", handle="+91 98000 00000", account_id="1055")
    assert account.status == Status.CONNECTED, account.status_message


def test_the_connect_form_needs_an_account_id_except_for_x(tenant_a, owner_client, hub):
    response = owner_client.post(url(tenant_a, "connect/"), {"platform": "linkedin", "handle": "Acme",
                                                             "access_token": GOOD})
    assert response.status_code == 200 and b"needs the account id" in response.content
    response = owner_client.post(url(tenant_a, "connect/"), {"platform": "x", "handle": "@acme", "access_token": GOOD})
    assert response.status_code == 302


def test_status_is_rechecked_by_hand(tenant_a, hub):
    account = connect(tenant_a)
    hub.fault("facebook", status=500, count=1)
    with tenant_scope(tenant_a):
        assert social_account_check(account=account).status == Status.ERROR
        assert social_account_check(account=account).status == Status.CONNECTED
