"""Reads of social accounts; the campaign wizard uses social_accounts_needing_attention()."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from social_accounts.models import EXPIRY_WARNING, NEEDS_ATTENTION, SocialAccount, Status
from tenants.models import Tenant


def social_accounts_needing_attention(tenant: Tenant) -> list[SocialAccount]:
    """Accounts that cannot post until someone reconnects them (expired or disconnected)."""
    return list(SocialAccount.objects.filter(tenant=tenant, status__in=NEEDS_ATTENTION).order_by("platform", "handle"))


def social_accounts_expiring_soon(tenant: Tenant, *, within: timedelta = EXPIRY_WARNING) -> list[SocialAccount]:
    now = timezone.now()
    return list(SocialAccount.objects.filter(
        tenant=tenant, status=Status.CONNECTED, token_expires_at__gt=now, token_expires_at__lte=now + within,
    ).order_by("token_expires_at"))


def social_accounts_usable(tenant: Tenant) -> QuerySet[SocialAccount]:
    """Accounts a campaign can post to now."""
    return SocialAccount.objects.filter(tenant=tenant, status=Status.CONNECTED)
