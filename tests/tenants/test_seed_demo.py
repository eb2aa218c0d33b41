from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_scopes import scopes_disabled

from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def row_counts() -> dict[str, int]:
    with scopes_disabled():
        return {m._meta.label: m._default_manager.count() for m in apps.get_models() if not m._meta.proxy}


def test_seed_demo_creates_two_workspaces_with_logins_and_is_idempotent():
    call_command("seed_demo")
    first = row_counts()
    call_command("seed_demo")
    assert row_counts() == first

    acme = Tenant.objects.get(slug="acme")
    globex = Tenant.objects.get(slug="globex")
    assert (acme.name, acme.timezone, acme.currency) == ("Acme Retail", "Asia/Kolkata", "INR")
    assert (globex.name, globex.timezone) == ("Globex Services", "America/New_York")
    users = set(get_user_model().objects.values_list("username", flat=True))
    assert {"acme-admin", "acme-marketer", "globex-admin", "globex-marketer", "admin"} <= users
