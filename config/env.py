"""Strict environment readers: a bad or missing value stops start-up with a message naming it.

django-environ parses URLs well but quietly turns "flase" into False and a typo'd integer
into a traceback deep in Django; these wrappers fail early and say which variable is wrong.
"""

from __future__ import annotations

import os

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING = object()

env = environ.Env()


def _raw(name: str, default: object) -> str | object:
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(
                f"Missing required environment variable {name}. "
                f"Set it in the environment (see README, 'Configuration')."
            )
        return default
    return value


def env_str(name: str, default: object = _MISSING) -> str:
    return _raw(name, default)  # type: ignore[return-value]


def env_bool(name: str, default: object = _MISSING) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no."
    )


def env_int(name: str, default: object = _MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"Environment variable {name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"Environment variable {name}={number} must be at least {minimum}.")
    return number


def env_list(name: str, default: object = _MISSING) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, list):
        return value
    return [item.strip() for item in str(value).split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...], default: object = _MISSING) -> str:
    value = str(_raw(name, default))
    if value not in choices:
        raise ImproperlyConfigured(
            f"Environment variable {name}={value!r} must be one of: {', '.join(choices)}."
        )
    return value


DB_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def env_db(name: str, default: str) -> dict:
    value = str(_raw(name, default))
    scheme = value.split("://", 1)[0]
    if "://" not in value or scheme not in DB_SCHEMES:
        raise ImproperlyConfigured(
            f"Environment variable {name} is not a valid database URL: use postgres://... or sqlite:///..."
        )
    try:
        return environ.Env.db_url_config(value)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        raise ImproperlyConfigured(f"Environment variable {name} is not a valid database URL: {exc}") from None


def env_url(name: str, default: object = _MISSING, *, schemes: tuple[str, ...]) -> str | None:
    value = _raw(name, default)
    if value is None or value == "":
        return None
    scheme = str(value).split("://", 1)[0]
    if "://" not in str(value) or scheme not in schemes:
        raise ImproperlyConfigured(
            f"Environment variable {name}={value!r} must be a URL starting with one of: "
            + ", ".join(f"{s}://" for s in schemes)
        )
    return str(value)
