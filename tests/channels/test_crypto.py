"""Credentials at rest: encrypted in the column, write-only, rotatable without losing anything."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from channels.crypto import (
    DecryptionError,
    check_encryption_keys,
    decrypt_json,
    encrypt_json,
    mask_secret,
)
from channels.models import ChannelConfig
from social_accounts.models import SocialAccount
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db

SECRET = "sk_live_SuperSecretToken_9876"
SOCIAL_SECRET = "EAAG-social-access-token-5555"


def raw_column(table: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets_ciphertext FROM {table} WHERE id = %s",
                       [ChannelConfig._meta.pk.get_db_prep_value(pk, connection)])
        return cursor.fetchone()[0]


def make_config(tenant, name="Mail", secret=SECRET) -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name=name, channel="email", provider="sandbox",
                               rate_per_second=10, unit_cost=Decimal("0.001"))
        config.set_secrets({"api_key": secret})
        config.save()
        return config


def make_account(tenant, secret=SOCIAL_SECRET) -> SocialAccount:
    with tenant_scope(tenant):
        account = SocialAccount(tenant=tenant, platform="facebook", handle="Acme", account_id="1234")
        account.set_secrets({"access_token": secret})
        account.save()
        return account


def test_credentials_are_unreadable_in_the_raw_database_column(tenant_a):
    config = make_config(tenant_a)
    account = make_account(tenant_a)
    for table, pk, secret in (("channels_channelconfig", config.pk, SECRET),
                              ("social_accounts_socialaccount", account.pk, SOCIAL_SECRET)):
        raw = raw_column(table, pk)
        assert raw and secret not in raw
        assert secret[-8:] not in raw
    with tenant_scope(tenant_a):
        assert ChannelConfig.objects.get(pk=config.pk).get_secrets() == {"api_key": SECRET}
        assert SocialAccount.objects.get(pk=account.pk).get_secrets() == {"access_token": SOCIAL_SECRET}


def test_models_never_show_secrets_in_their_repr_or_str(tenant_a):
    config = make_config(tenant_a)
    account = make_account(tenant_a)
    with tenant_scope(tenant_a):
        for text in (repr(config), str(config), repr(account), str(account), repr(config.provider_config()),
                     repr(account.provider_config())):
            assert SECRET not in text and SOCIAL_SECRET not in text


def test_rotation_moves_every_secret_to_the_new_key_so_the_old_key_can_be_dropped(tenant_a, tenant_b, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    configs = [make_config(tenant_a, "A"), make_config(tenant_b, "B", secret="other-tenant-secret-0001")]
    account = make_account(tenant_b)
    before = raw_column("channels_channelconfig", configs[0].pk)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", "--batch-size", "1")
    assert raw_column("channels_channelconfig", configs[0].pk) != before

    settings.FIELD_ENCRYPTION_KEYS = [new]
    with tenant_scope(tenant_a):
        assert ChannelConfig.objects.get(pk=configs[0].pk).get_secrets() == {"api_key": SECRET}
    with tenant_scope(tenant_b):
        assert ChannelConfig.objects.get(pk=configs[1].pk).get_secrets() == {"api_key": "other-tenant-secret-0001"}
        assert SocialAccount.objects.get(pk=account.pk).get_secrets() == {"access_token": SOCIAL_SECRET}
    assert SECRET not in raw_column("channels_channelconfig", configs[0].pk)


def test_without_rotation_dropping_the_old_key_makes_secrets_unreadable(tenant_a, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    config = make_config(tenant_a)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with tenant_scope(tenant_a), pytest.raises(DecryptionError) as caught:
        ChannelConfig.objects.get(pk=config.pk).get_secrets()
    assert SECRET not in str(caught.value)


def test_rotation_changes_nothing_when_a_secret_cannot_be_decrypted(tenant_a, tenant_b, settings):
    from django.core.management.base import CommandError

    lost, old, new = (Fernet.generate_key().decode() for _ in range(3))
    settings.FIELD_ENCRYPTION_KEYS = [old]
    good = make_config(tenant_a, "Good")
    settings.FIELD_ENCRYPTION_KEYS = [lost]
    make_config(tenant_b, "Orphan")
    before = raw_column("channels_channelconfig", good.pk)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_secrets")
    assert raw_column("channels_channelconfig", good.pk) == before


def test_a_missing_or_invalid_key_fails_the_startup_check(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    assert [e.id for e in check_encryption_keys()] == ["channels.E001"]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "not-a-fernet-key"]
    errors = check_encryption_keys()
    assert [e.id for e in errors] == ["channels.E002"] and "#2" in errors[0].msg
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert check_encryption_keys() == []


def test_the_system_check_runs_at_startup(settings):
    from django.core.management import call_command as run
    from django.core.management.base import SystemCheckError

    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(SystemCheckError, match="FIELD_ENCRYPTION_KEYS is empty"):
        run("check")


def test_encryption_round_trips_and_masks_show_at_most_the_last_four():
    token = encrypt_json({"api_key": SECRET})
    assert decrypt_json(token) == {"api_key": SECRET}
    assert encrypt_json({}) == "" and decrypt_json("") == {}
    assert mask_secret(SECRET) == "••••9876"
    assert mask_secret("123456") == "••••"  # short secrets show nothing at all
