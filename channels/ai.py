"""Text generation through OpenAI chat completions (the official openai SDK).

This lives in channels, not in campaigns, because it is one more outside provider: same base-URL
rule (settings.OPENAI_BASE_URL, read at call time, so the fake providers answer in dev and tests),
same pooled clients, same ProviderError taxonomy the engine already knows how to retry. It is not
a ChannelAdapter (it sends nothing to contacts), so it has no registry entry.

    chat_complete(messages=[{"role": "user", "content": "Write 3 variants of: Sale ends Friday"}],
                  model="gpt-4o-mini", api_key=key)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence

import openai
from django.conf import settings

from channels.base import ConfigurationError, ProviderError
from channels.providers import http

logger = logging.getLogger(__name__)

# Generation is interactive (a marketer waits on the wizard): fail fast and let them retry.
TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Statuses OpenAI documents as worth retrying; everything else in 4xx is the request's fault.
TRANSIENT_STATUSES = frozenset({408, 409, 429})
# A 429 with one of these codes is a billing problem, not a burst: retrying cannot help.
PERMANENT_429_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


def _client(*, base_url: str, api_key: str, timeout: float) -> openai.OpenAI:
    # One client (and connection pool) per process and key; the key is hashed so it is not kept
    # as a dict key in plain text.
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return http._pooled(
        f"openai:{base_url}:{fingerprint}:{timeout}",
        lambda: openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=openai.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
            # Retries belong to the caller (the engine's backoff, or the user clicking again).
            max_retries=0,
        ),
    )


def chat_complete(
    *,
    messages: Sequence[Mapping[str, str]],
    model: str,
    api_key: str,
    temperature: float = 0.7,
    timeout: float = TIMEOUT_SECONDS,
) -> str:
    """Return the first choice's text, or raise ProviderError (transient or permanent)."""
    if not api_key:
        raise ConfigurationError("OpenAI: the API key is missing.")
    if not model:
        raise ConfigurationError("OpenAI: no model is configured.")
    client = _client(base_url=settings.OPENAI_BASE_URL.rstrip("/"), api_key=api_key, timeout=timeout)
    try:
        completion = client.chat.completions.create(
            model=model, messages=[dict(m) for m in messages], temperature=temperature
        )
    except openai.APITimeoutError as exc:
        raise ProviderError("OpenAI did not answer in time.", code="timeout") from exc
    except openai.APIConnectionError as exc:
        raise ProviderError("Could not reach OpenAI.", code="connection") from exc
    except openai.APIStatusError as exc:
        raise classify(exc) from exc
    content = completion.choices[0].message.content if completion.choices else None
    if not content:
        # A refusal or a tool call: asking again with the same prompt gives the same answer.
        raise ProviderError("OpenAI returned no text for this prompt.", code="empty", permanent=True)
    return content


def classify(exc: openai.APIStatusError) -> ProviderError:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""
    status = exc.status_code
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    code = str(error.get("code") or status)
    message = str(error.get("message") or exc.message)
    if (status >= 500 or status in TRANSIENT_STATUSES) and code not in PERMANENT_429_CODES:
        return ProviderError(message, code=code, retry_after=_retry_after(exc.response.headers))
    if status not in (400, 401, 403, 404, 422, 429):
        logger.debug("Unclassified OpenAI error %s: %s", status, code)
    return ProviderError(message, code=code, permanent=True)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """OpenAI sends retry-after-ms (sub-second waits) next to the standard Retry-After."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return http.retry_after_seconds(headers)
