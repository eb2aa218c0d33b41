"""Demo seed: two social accounts per demo tenant, one working and one whose token expired (so
the banner and badges show). The tokens are the fake platforms' test tokens, not real ones."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from social_accounts.models import SocialAccount, Status


def seed(*, tenant, spec, users, rng) -> None:
    now = timezone.now()
    handle = spec.slug + "hq"
    accounts = [
        dict(platform="facebook", handle=spec.name, account_id=str(104857600 + rng.randint(1, 9999)),
             token="good-token", expires=now + timedelta(days=55), status=Status.CONNECTED,
             message=f"Connected as {spec.name} (demo data)."),
        dict(platform="x", handle=f"@{handle}", account_id="", token="expired-token",
             expires=now - timedelta(days=2), status=Status.EXPIRED,
             message="The access token expired. Reconnect the account."),
    ]
    for item in accounts:
        if SocialAccount.objects.filter(tenant=tenant, platform=item["platform"], handle=item["handle"]).exists():
            continue
        account = SocialAccount(
            tenant=tenant, platform=item["platform"], handle=item["handle"], account_id=item["account_id"],
            token_expires_at=item["expires"], status=item["status"], status_message=item["message"],
            last_checked_at=now,
        )
        account.set_secrets({"access_token": item["token"]})
        account.save()
