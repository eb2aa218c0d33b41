"""Writes for social accounts: connect, update credentials, check, disconnect."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels import registry
from channels.base import ProviderError
from channels.crypto import DecryptionError
from social_accounts.models import EXPIRY_WARNING, SocialAccount, Status
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class SocialAccountError(Exception):
    """Safe to show: never contains a credential."""


def _status_for(exc: ProviderError) -> str:
    """Credentials the platform rejects as expired -> expired; otherwise rejected -> disconnected."""
    if getattr(exc, "credentials", False) or exc.code in ("401", "190"):
        return Status.EXPIRED if "expire" in exc.message.lower() else Status.DISCONNECTED
    return Status.ERROR


def social_account_check(*, account: SocialAccount, now: datetime | None = None) -> SocialAccount:
    """Test the connection through the platform's adapter and record status, message and time."""
    now = now or timezone.now()
    if account.token_expires_at is not None and account.token_expires_at <= now:
        status, message = Status.EXPIRED, f"The access token expired on {account.token_expires_at:%b %d, %Y}. Reconnect the account."
    else:
        try:
            config = account.provider_config()
        except DecryptionError as exc:
            status, message = Status.ERROR, str(exc)
        else:
            if not config.secrets:
                status, message = Status.DISCONNECTED, "No credentials stored. Reconnect the account."
            else:
                try:
                    who = registry.adapter_class(account.provider_key)(config).test_connection()
                    status, message = Status.CONNECTED, f"Connected as {who}." if who else "Connected."
                except ProviderError as exc:
                    status, message = _status_for(exc), exc.message
    account.status = status
    account.status_message = message[:500]
    account.last_checked_at = now
    account.expiring_soon = bool(
        status == Status.CONNECTED and account.token_expires_at and account.token_expires_at <= now + EXPIRY_WARNING
    )
    account.save(update_fields=["status", "status_message", "last_checked_at", "expiring_soon", "updated_at"])
    logger.info("Social account %s checked: %s", account.pk, status)
    return account


def social_account_connect(
    *,
    tenant: Tenant,
    platform: str,
    handle: str,
    account_id: str,
    credentials: Mapping[str, str],
    token_expires_at: datetime | None,
    check: bool = True,
) -> SocialAccount:
    account = SocialAccount(tenant=tenant, platform=platform, handle=handle, account_id=account_id,
                            token_expires_at=token_expires_at)
    account.set_secrets(credentials)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise SocialAccountError(f"{account.get_platform_display()} {handle} is already connected.") from None
    logger.info("Social account %s (%s) connected for tenant %s", account.pk, platform, tenant.slug)
    return social_account_check(account=account) if check else account


def social_account_update(
    *,
    account: SocialAccount,
    handle: str,
    account_id: str,
    credentials: Mapping[str, str],
    token_expires_at: datetime | None,
    check: bool = True,
) -> SocialAccount:
    """Blank credentials keep the stored ones; new ones replace them (reconnecting)."""
    account.handle = handle
    account.account_id = account_id
    account.token_expires_at = token_expires_at
    new = {k: v for k, v in credentials.items() if v}
    if new:
        account.set_secrets({**account.get_secrets(), **new})
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise SocialAccountError(f"{account.get_platform_display()} {handle} is already connected.") from None
    return social_account_check(account=account) if check else account


def social_account_disconnect(*, account: SocialAccount) -> SocialAccount:
    """Forget the credentials; the account stays listed as disconnected until reconnected."""
    account.set_secrets({})
    account.status = Status.DISCONNECTED
    account.status_message = "Disconnected by a workspace admin."
    account.expiring_soon = False
    account.save()
    return account


def social_account_delete(*, account: SocialAccount) -> None:
    account.delete()


def social_accounts_recheck(*, tenant: Tenant, now: datetime | None = None) -> dict[str, int]:
    """Re-check every connected (or erroring) account of a tenant; flag tokens about to expire."""
    counts: dict[str, int] = {}
    for account in SocialAccount.objects.filter(tenant=tenant, status__in=[Status.CONNECTED, Status.ERROR]):
        social_account_check(account=account, now=now)
        counts[account.status] = counts.get(account.status, 0) + 1
    return counts
