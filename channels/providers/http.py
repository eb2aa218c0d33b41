"""Plumbing shared by the providers that speak plain HTTP APIs (Meta, Telegram, social, web push).

- One pooled HTTP client per process: a new client per request costs a TCP (and TLS) handshake
  each time (about 50 req/s here against thousands with keep-alive). Clients are re-created after
  a fork, because a pool inherited from the parent shares its sockets with it.
- Network failures become transient ProviderErrors in one place.
- send_each(): the per-message loop every one-request-per-message provider needs, which stops
  calling the provider once it said "slow down" or "your credentials are bad".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from channels.base import (
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
    SendResult,
)

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
USER_AGENT = "relay-campaigns/1.0"

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_owner_pid: int | None = None


def _pooled(name: str, factory: Callable[[], Any]) -> Any:
    global _owner_pid
    pid = os.getpid()
    with _lock:
        if _owner_pid != pid:
            # After a fork (Celery prefork workers) never reuse the parent's sockets.
            _clients.clear()
            _owner_pid = pid
        client = _clients.get(name)
        if client is None:
            client = _clients[name] = factory()
        return client


def client() -> httpx.Client:
    """The process-wide httpx client (thread-safe, keep-alive pool)."""
    return _pooled(
        "httpx",
        lambda: httpx.Client(
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            headers={"User-Agent": USER_AGENT},
        ),
    )


def requests_session():
    """The process-wide requests.Session, for SDKs built on requests (pywebpush)."""
    import requests
    from requests.adapters import HTTPAdapter

    def factory():
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=50, pool_maxsize=50)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        return session

    return _pooled("requests", factory)


def reset_clients() -> None:
    """Close every pooled client (tests, or a worker shutting down)."""
    with _lock:
        for pooled in _clients.values():
            pooled.close()
        _clients.clear()


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call through the pooled client; network failures become transient errors."""
    try:
        return client().request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ProviderError(f"Timed out calling {httpx.URL(url).host}: {exc.__class__.__name__}", code="timeout") from exc
    except httpx.TransportError as exc:
        raise ProviderError(f"Network error calling {httpx.URL(url).host}: {exc}", code="network") from exc


def retry_after_seconds(headers: Mapping[str, str], default: float | None = None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return default


def json_or_empty(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def setting(name: str) -> str:
    """A provider base URL from Django settings, read at call time, without a trailing slash."""
    from django.conf import settings

    return str(getattr(settings, name)).rstrip("/")


def require(provider_label: str, fields: Iterable[ConfigField], values: Mapping[str, str], names: Sequence[str]) -> None:
    """Raise a ConfigurationError naming every missing setting by its form label."""
    labels = {f.name: f.label for f in fields}
    missing = [labels.get(name, name) for name in names if not str(values.get(name) or "").strip()]
    if missing:
        raise ConfigurationError(
            f"{provider_label} is not configured: missing {', '.join(missing)}. "
            "Fill these in on the channel's settings page."
        )


def halts_batch(error: ProviderError) -> bool:
    """Errors after which calling the provider again in the same batch is pointless."""
    return not error.permanent or error.code == "configuration" or getattr(error, "credentials", False)


def send_each(messages: Sequence[OutboundMessage], send_one: Callable[[OutboundMessage], SendResult]) -> list[SendResult]:
    """Send messages one request each; one result per message, in order.

    After a transient error (429, 5xx, timeout) or a credentials error, the rest of the batch is
    not attempted: each gets the same error, so the engine retries (or fails) them without
    hammering a provider that already said no.
    """
    results: list[SendResult] = []
    stop: ProviderError | None = None
    for message in messages:
        if stop is not None:
            results.append(SendResult(message_id=message.id, error=_not_attempted(stop)))
            continue
        try:
            results.append(send_one(message))
        except ProviderError as exc:
            results.append(SendResult(message_id=message.id, error=exc))
            if halts_batch(exc):
                stop = exc
    return results


def _not_attempted(cause: ProviderError) -> ProviderError:
    error = ProviderError(
        f"Not attempted: {cause.message}",
        code=cause.code,
        permanent=cause.permanent,
        retry_after=cause.retry_after,
    )
    error.attempted = False
    return error


def credentials_error(message: str, *, code: str | None) -> ProviderError:
    """A permanent error that concerns the account, not the recipient (expired token...)."""
    error = ProviderError(message, code=code, permanent=True)
    error.credentials = True  # type: ignore[attr-defined]
    return error
