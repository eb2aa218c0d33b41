"""`bench_campaign` (part of `make bench`) end to end at a tiny size: real Celery workers and the
fake providers send every message, the table carries each figure, and nothing is left behind."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from audiences.models import Contact
from campaigns.models import Delivery
from tenants.models import Tenant
from tenants.scoping import scopes_disabled
from tests.workers import worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_bench_campaign_sends_every_message_through_real_workers_and_cleans_up(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", worker_database_url())  # the workers it starts use the test database
    out = io.StringIO()
    call_command("bench_campaign", contacts=300, channels="sms,email", phase_timeout=120, stdout=out)

    report = out.getvalue()
    assert "| Contacts x channels | 300 x 2 = 600 deliveries |" in report
    assert "Dispatch sms (sustained" in report and "Dispatch email (sustained" in report
    assert "| Total cost recorded | 0.60000 |" in report  # 600 messages at 0.001 each: every one was sent
    with scopes_disabled():
        assert not Tenant.objects.filter(slug="bench-campaign").exists()
        assert not Contact.objects.exists() and not Delivery.objects.exists()
