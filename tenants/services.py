from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from tenants.models import ApiKey, Tenant

# Writing last_used_at on every request would turn each API call into a row update.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_create(*, tenant: Tenant, name: str, actor) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored or shown again."""
    raw, prefix, key_hash = ApiKey.generate()
    api_key = ApiKey.objects.create(tenant=tenant, name=name.strip(), prefix=prefix, key_hash=key_hash, created_by=actor)
    return api_key, raw


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke once; returns False when the key was already revoked."""
    return bool(
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """Find the active key for a raw secret, across tenants (the key names its tenant)."""
    if not raw_key or not raw_key.startswith("cpk_"):
        return None
    with scopes_disabled():
        api_key = (
            ApiKey.objects.select_related("tenant")
            .filter(key_hash=ApiKey.hash(raw_key), revoked_at__isnull=True, tenant__is_active=True)
            .first()
        )
        if api_key is None:
            return None
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
    return api_key
