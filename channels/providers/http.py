"""Plumbing shared by the providers that speak plain HTTP APIs (Meta, Telegram, social, web push).

- One pooled HTTP client per process: a new client per request costs a TCP (and TLS) handshake
  each time (about 50 req/s here against thousands with keep-alive). Clients are re-created after
  a fork, because a pool inherited from the parent shares its sockets with it.
- Network failures become transient ProviderErrors in one place.
- send_each(): the per-message loop every one-request-per-message provider needs, which stops
  calling the provider once it said "slow down" or "your credentials are bad".
- send_concurrent(): the same contract with many requests in flight at once (asyncio on a
  per-thread event loop that lives as long as the thread, with one pooled aiohttp session), for
  SDKs with an async client (Twilio's): a batch costs its slowest request, not the sum of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
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
    state = getattr(_async_local, "state", None)
    if state is not None:
        state.close_session()


# --- asyncio: one event loop per thread, reused across batches --------------------------------

_async_local = threading.local()
CONCURRENCY = 32  # requests in flight per batch (per dispatcher)


class _AsyncState:
    """A thread's event loop and aiohttp session; closed when the thread object goes away (or at
    exit), and never from a forked child, whose copies of the sockets belong to its parent."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.session = None
        weakref.finalize(threading.current_thread(), self.close)

    def close_session(self) -> None:
        session, self.session = self.session, None
        if session is None or session.closed or self.pid != os.getpid():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop running in this thread: close it properly
            if not self.loop.is_running() and not self.loop.is_closed():
                self.loop.run_until_complete(session.close())
                return
        session.connector._close()  # inside another loop: drop the transports without awaiting

    def close(self) -> None:
        self.close_session()
        if self.pid == os.getpid() and not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


def _async_state() -> _AsyncState:
    state = getattr(_async_local, "state", None)
    if state is None or state.pid != os.getpid() or state.loop.is_closed():
        # First use in this thread, or a forked child: never drive the parent's loop or sockets.
        state = _async_local.state = _AsyncState()
    return state


def run_async(coro: Awaitable):
    """Run a coroutine to completion on this thread's own event loop (kept between calls, so the
    pooled aiohttp session and its keep-alive connections survive from one batch to the next)."""
    return _async_state().loop.run_until_complete(coro)


def aiohttp_session():
    """The pooled aiohttp session of this thread's loop (call from a coroutine run by run_async)."""
    import aiohttp

    state = _async_state()
    if state.session is None or state.session.closed:
        state.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=100, ttl_dns_cache=300),
            headers={"User-Agent": USER_AGENT},
        )
    return state.session


def aiohttp_timeout():
    """TIMEOUT (read at call time, so tests can shorten it) as aiohttp's timeout."""
    return _aiohttp_timeout(TIMEOUT.connect, TIMEOUT.read)


@functools.lru_cache(maxsize=8)
def _aiohttp_timeout(connect: float, read: float):
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


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


def send_concurrent(messages: Sequence[OutboundMessage], send_one: Callable[[OutboundMessage], Awaitable[SendResult]],
                    *, concurrency: int | None = None) -> list[SendResult]:
    """send_each's contract with up to `concurrency` requests in flight.

    The first message goes alone: an outage or bad credentials cost one request, as with
    send_each. After a halting error no new request starts (those already in flight finish and
    keep their own answers); the rest get the error as "not attempted". One result per message,
    in order; an unexpected exception becomes a transient error for its own message only, so the
    messages the provider did accept are never reported as failed (and sent again).
    """
    if not messages:
        return []
    results: list[SendResult | None] = [None] * len(messages)
    stop: list[ProviderError] = []

    async def one(index: int, message: OutboundMessage) -> None:
        if stop:
            results[index] = SendResult(message_id=message.id, error=_not_attempted(stop[0]))
            return
        try:
            results[index] = await send_one(message)
        except ProviderError as exc:
            results[index] = SendResult(message_id=message.id, error=exc)
            if halts_batch(exc) and not stop:
                stop.append(exc)
        except Exception as exc:  # noqa: BLE001 - unknown failure: transient, logged, and halts the batch
            logger.exception("Unexpected error sending %s", message.id)
            error = ProviderError(f"Unexpected error: {exc.__class__.__name__}", code="internal")
            results[index] = SendResult(message_id=message.id, error=error)
            if not stop:
                stop.append(error)

    async def batch() -> None:
        await one(0, messages[0])
        pending = iter(list(enumerate(messages))[1:])

        async def lane() -> None:
            for index, message in pending:  # one shared iterator: each message is taken once
                await one(index, message)

        lanes = min(concurrency or CONCURRENCY, len(messages) - 1)
        if lanes > 0:
            await asyncio.gather(*(lane() for _ in range(lanes)))

    run_async(batch())
    return results  # type: ignore[return-value]


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
