"""Django's signatures, computed with the derived key kept between calls.

`salted_hmac` derives its key (a hash of salt + SECRET_KEY) on every call, and `signing.dumps`
also builds a Signer each time; dispatch signs one or two tokens per message, where that was a
sixth of an email's CPU. These give byte-for-byte the same results (tests/test_signing.py), so
Django's own `signing.loads` and `salted_hmac` keep verifying them, fallback keys included.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time

from django.conf import settings
from django.core.signing import b62_encode, b64_encode

# What signing.JSONSerializer writes; one encoder for good (json.dumps with separators builds a
# new encoder per call, half the cost of a token).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


@functools.lru_cache(maxsize=256)
def _keyed(key_salt: str, secret: str) -> hmac.HMAC:
    derived = hashlib.sha256(key_salt.encode() + secret.encode()).digest()
    return hmac.new(derived, digestmod=hashlib.sha256)


def salted_hmac_sha256(key_salt: str, value: str) -> hmac.HMAC:
    """`django.utils.crypto.salted_hmac(key_salt, value, algorithm="sha256")`."""
    mac = _keyed(key_salt, settings.SECRET_KEY).copy()
    mac.update(value.encode())
    return mac


def signing_dumps(obj, *, salt: str) -> str:
    """`django.core.signing.dumps(obj, salt=salt)` (JSON, not compressed, timestamped, SHA-256)."""
    data = b64_encode(_COMPACT_JSON.encode(obj).encode("latin-1")).decode()
    value = f"{data}:{b62_encode(int(time.time()))}"
    signature = b64_encode(salted_hmac_sha256(salt + "signer", value).digest()).decode()
    return f"{value}:{signature}"
