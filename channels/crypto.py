"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) over a key list from the environment.

settings.FIELD_ENCRYPTION_KEYS is a list of Fernet keys, newest first, independent of SECRET_KEY.
New ciphertext is always written with the first key; any key in the list decrypts. Rotation:
put a new key first, run `manage.py rotate_secrets` (re-encrypts every stored secret under it),
then drop the old key. The list is read at call time, so settings overrides take effect at once.

A model stores its secrets as one encrypted text column holding a JSON object
(EncryptedSecretsMixin); nothing else in the code base ever sees ciphertext or builds a Fernet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks

__all__ = [
    "DecryptionError",
    "EncryptedSecretsMixin",
    "check_encryption_keys",
    "decrypt_json",
    "decrypt_str",
    "encrypt_json",
    "encrypt_str",
    "mask_secret",
    "rotate_token",
]

MASK = "••••"


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key (the message names no secret)."""


def _keys() -> tuple[str, ...]:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",")]
    return tuple(k for k in keys if k)


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise DecryptionError("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be encrypted or decrypted.")
    return MultiFernet([Fernet(key) for key in keys])


def _fernet() -> MultiFernet:
    return _multifernet(_keys())


def encrypt_str(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_str(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret does not decrypt with any key in FIELD_ENCRYPTION_KEYS "
            "(was a key dropped before running rotate_secrets?)."
        ) from None


def encrypt_json(data: Mapping[str, str]) -> str:
    """Encrypt a dict of secrets; an empty dict is stored as an empty string."""
    if not data:
        return ""
    return encrypt_str(json.dumps(dict(data), sort_keys=True, separators=(",", ":")))


def decrypt_json(token: str) -> dict[str, str]:
    if not token:
        return {}
    value = json.loads(decrypt_str(token))
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def rotate_token(token: str) -> str:
    """Re-encrypt a ciphertext under the first key (decrypting with whichever key made it)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret does not decrypt with any key in FIELD_ENCRYPTION_KEYS.") from None


def mask_secret(value: str) -> str:
    """What a page may show of a secret: '••••1234' for long values, '••••' for short ones.

    Four characters of a 12+ character token give nothing useful away; of a 6-digit PIN they would.
    """
    if not value:
        return ""
    return MASK + value[-4:] if len(value) >= 12 else MASK


class EncryptedSecretsMixin:
    """For models with a `secrets_ciphertext` TextField holding an encrypted JSON object.

    Secrets are read through get_secrets() only, never through an attribute a template could print
    by accident, and __repr__ / __str__ of the models never include them.
    """

    secrets_ciphertext: str

    def get_secrets(self) -> dict[str, str]:
        return decrypt_json(self.secrets_ciphertext)

    def set_secrets(self, data: Mapping[str, str]) -> None:
        self.secrets_ciphertext = encrypt_json({k: v for k, v in data.items() if v not in (None, "")})

    def secret_hints(self) -> dict[str, str]:
        """Masked values for display ('••••1234'); an undecryptable column shows as unreadable."""
        try:
            return {name: mask_secret(value) for name, value in self.get_secrets().items()}
        except DecryptionError:
            return {}


def check_encryption_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Start-up check: the key list must be present and every key a valid Fernet key."""
    keys = _keys()
    if not keys:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is empty: channel and social account credentials cannot be "
                "encrypted or decrypted.",
                hint='Set FIELD_ENCRYPTION_KEYS to one or more Fernet keys, newest first. Make one with: '
                     'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
                id="channels.E001",
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry #{position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    hint="Generate keys with cryptography.fernet.Fernet.generate_key().",
                    id="channels.E002",
                )
            )
    return errors
