"""Migration 0014: attributes imported as text before numbers were stored as numbers are converted,
so the numeric segment rules (which compare JSON numbers only) find them."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from audiences.models import Contact

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("audiences.migrations.0014_attribute_numbers_as_numbers")


def test_numeric_text_becomes_numbers_and_other_values_stay(in_tenant_a):
    old = Contact.objects.create(tenant=in_tenant_a, attributes={
        "ltv": "4000", "balance": "12.50", "debt": "-3", "zip": "007", "sci": "5e3", "plan": "pro",
        "visits": 7, "vip": True, "card": "4" * 31})
    untouched = Contact.objects.create(tenant=in_tenant_a, attributes={"plan": "free"})

    MIGRATION.forwards(apps, SimpleNamespace(connection=connection))

    old.refresh_from_db()
    assert old.attributes == {"ltv": 4000, "balance": 12.5, "debt": -3, "zip": "007", "sci": "5e3",
                              "plan": "pro", "visits": 7, "vip": True, "card": "4" * 31}
    assert isinstance(old.attributes["ltv"], int)
    untouched.refresh_from_db()
    assert untouched.attributes == {"plan": "free"}
