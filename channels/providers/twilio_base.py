"""What the Twilio adapters (SMS, WhatsApp, Voice) share, on top of the official `twilio` SDK.

- The SDK builds absolute https://api.twilio.com/... URLs; PooledTwilioHttp rewrites them to
  settings.TWILIO_API_BASE (read at call time, so tests and the fake server can point elsewhere),
  reuses the process-wide requests session, and turns timeouts / network failures into transient
  ProviderErrors.
- Sending uses the SDK's asyncio API (`messages.create_async`, `calls.create_async`) through
  AsyncPooledTwilioHttp (the same rewriting over a pooled aiohttp session): a batch keeps up to
  http.CONCURRENCY requests in flight (http.send_concurrent) instead of waiting for each answer.
- classify(): Twilio REST errors (status + numeric code) -> ProviderError.
- Callbacks: X-Twilio-Signature verified with twilio.request_validator.RequestValidator over the
  public URL (request.build_absolute_uri(), query string included) and the POST parameters.
  Our delivery id travels in the StatusCallback URL as ?d=<OutboundMessage.id> and comes back here.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import requests
import yarl
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient, HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (
    ChannelAdapter,
    ConfigField,
    OutboundMessage,
    ProviderError,
    SendResult,
    Stage,
    StatusEvent,
)
from channels.providers import http

logger = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
DELIVERY_PARAM = "d"

# Twilio's default opt-out / opt-in / help keywords (the whole message, case-insensitive).
KEYWORDS = {
    "stop": "stop", "stopall": "stop", "unsubscribe": "stop", "cancel": "stop", "end": "stop", "quit": "stop",
    "start": "start", "unstop": "start", "yes": "start",
    "help": "help", "info": "help",
}


def keyword_of(text: str) -> str:
    return KEYWORDS.get(text.strip().strip(".!").lower(), "")


def with_delivery_id(url: str, delivery_id: str) -> str:
    """The status callback URL with our delivery id in its query (?d=...)."""
    if not url:
        return ""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != DELIVERY_PARAM]
    query.append((DELIVERY_PARAM, delivery_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the SDK's HTTP client ---------------------------------------------------------------------


class PooledTwilioHttp(HttpClient):
    """A twilio HttpClient that talks to settings.TWILIO_API_BASE over the pooled requests session.

    The last response is kept per thread so Retry-After can be read after the SDK raised.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, None)
        self._local = threading.local()

    @property
    def last_response(self) -> TwilioResponse | None:
        return getattr(self._local, "response", None)

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> TwilioResponse:
        url = rewrite_url(url)
        kwargs: dict[str, Any] = {"method": method.upper(), "url": url, "params": params, "headers": headers,
                                  "auth": auth}
        if headers and headers.get("Content-Type") in ("application/json", "application/scim+json"):
            kwargs["json"] = data
        else:
            kwargs["data"] = data
        self._local.response = None
        limit = timeout if timeout else (http.TIMEOUT.connect, http.TIMEOUT.read)
        host = urlsplit(url).hostname
        try:
            raw = http.requests_session().request(timeout=limit, allow_redirects=allow_redirects, **kwargs)
        except requests.Timeout as exc:
            raise ProviderError(f"Timed out calling {host}: {exc.__class__.__name__}", code="timeout") from exc
        except requests.RequestException as exc:
            raise ProviderError(f"Network error calling {host}: {exc}", code="network") from exc
        response = TwilioResponse(int(raw.status_code), raw.text, raw.headers)
        self._local.response = response
        return response


_last_async_response: contextvars.ContextVar[TwilioResponse | None] = contextvars.ContextVar(
    "twilio_last_async_response", default=None)
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AsyncPooledTwilioHttp(AsyncHttpClient):
    """PooledTwilioHttp for the SDK's asyncio API: the same URL rewriting and error mapping over
    the pooled aiohttp session of this thread's loop (channels.providers.http.run_async).

    The last response is kept per asyncio task (a context variable), since many requests are in
    flight at once.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), True, None)

    @property
    def last_response(self) -> TwilioResponse | None:
        return _last_async_response.get()

    async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                      allow_redirects=False) -> TwilioResponse:
        url = rewrite_url(url)
        headers = dict(headers or {})
        if headers.get("Content-Type") in ("application/json", "application/scim+json"):
            body: Any = None
            json_body = data
        else:
            # Encoded here (list values become repeated keys, like requests does) with yarl's
            # compiled quoter: urllib's urlencode took a fifth of the CPU of a send. aiohttp's
            # FormData would use urlencode too, and refuses list values.
            pairs = [(k, str(v)) for k, value in (data or {}).items()
                     for v in (value if isinstance(value, (list, tuple)) else (value,))]
            body, json_body = yarl.URL.build(query=pairs).raw_query_string, None
            headers.update(_FORM)
        if auth:
            headers["Authorization"] = _basic_auth(*auth)
        _last_async_response.set(None)
        try:
            async with http.aiohttp_session().request(
                    method.upper(), url, params=params, data=body, json=json_body, headers=headers,
                    allow_redirects=allow_redirects, timeout=http.aiohttp_timeout()) as raw:
                text = await raw.text()
                status, raw_headers = raw.status, raw.headers
        except TimeoutError as exc:
            host = urlsplit(url).hostname
            raise ProviderError(f"Timed out calling {host}: {exc.__class__.__name__}", code="timeout") from exc
        except aiohttp.ClientError as exc:
            host = urlsplit(url).hostname
            raise ProviderError(f"Network error calling {host}: {exc}", code="network") from exc
        response = TwilioResponse(int(status), text, raw_headers)
        _last_async_response.set(response)
        return response


@functools.lru_cache(maxsize=64)
def _basic_auth(user: str, password: str) -> str:
    return aiohttp.encode_basic_auth(user, password)


_API_HOST = re.compile(r"^https://api(?:\.[a-z0-9-]+)*\.twilio\.com(?=/|$)")
_OTHER_HOST = re.compile(r"^https://([a-z0-9-]+)\.twilio\.com(?=/|$)")


def rewrite_url(url: str) -> str:
    """https://api.twilio.com/... (or an edge/region host such as api.sydney.au1.twilio.com) -> TWILIO_API_BASE.

    Other product hosts (content.twilio.com for the Content API) go to TWILIO_API_BASE/<product>
    when the base is not Twilio's own (the fake server mounts them there); a real regional base
    leaves them alone."""
    base = http.setting("TWILIO_API_BASE")
    if base == TWILIO_API:
        return url
    return _rewrite(base, url)


@functools.lru_cache(maxsize=256)  # a batch posts to one URL many times
def _rewrite(base: str, url: str) -> str:
    if _API_HOST.match(url):
        return _API_HOST.sub(lambda _m: base, url, count=1)
    if re.match(r"^https://[a-z0-9.-]*twilio\.com(?=/|$)", base):
        return url
    return _OTHER_HOST.sub(lambda m: f"{base}/{m.group(1)}", url, count=1)


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    messaging_service_sid: str

    @classmethod
    def from_config(cls, config) -> TwilioSettings:
        s, k = config.settings, config.secrets
        return cls(
            account_sid=str(s.get("account_sid") or k.get("account_sid") or "").strip(),
            auth_token=str(k.get("auth_token") or "").strip(),
            from_number=str(s.get("from_number") or "").strip(),
            messaging_service_sid=str(s.get("messaging_service_sid") or "").strip(),
        )


ACCOUNT_FIELDS = (
    ConfigField("account_sid", "Account SID", help="Starts with AC; from the Twilio console home page."),
    ConfigField("auth_token", "Auth token", secret=True,
                help="Also used to verify X-Twilio-Signature on status callbacks."),
)


class TwilioAdapter(ChannelAdapter):
    LABEL = "Twilio"

    # https://www.twilio.com/docs/api/errors
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({
        21211,  # invalid 'To' phone number
        21408,  # permission to send to this region not enabled
        21602,  # message body required
        21606,  # 'From' is not a valid, SMS-capable number for this account
        21610,  # recipient replied STOP (unsubscribed)
        21612,  # cannot route to this number from this 'From'
        21614,  # 'To' is not a valid mobile number
        21617,  # body exceeds 1600 characters
        21635,  # 'To' cannot be a landline
        21660,  # 'From' does not belong to the account
        63003,  # WhatsApp: channel could not find the To address
        63016,  # WhatsApp: outside the 24-hour session window, use a template
        63024,  # WhatsApp: invalid message recipient
        13223, 13224,  # voice: invalid / non-dialable phone number
        21215,  # voice: geo permission for this number not enabled
        21216,  # voice: number blocked
    })
    SUPPRESS_CODES: ClassVar[frozenset[int]] = frozenset({21610})
    CREDENTIAL_CODES: ClassVar[frozenset[int]] = frozenset({20003, 20005, 20008})
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({20429, 14107, 63018})
    DEFAULT_RETRY_AFTER = 1.0

    fields: ClassVar[tuple[ConfigField, ...]] = ACCOUNT_FIELDS

    @property
    def settings(self) -> TwilioSettings:
        return TwilioSettings.from_config(self.config)

    def _require(self, *names: str) -> TwilioSettings:
        s = self.settings
        values = {**self.config.settings, **self.config.secrets}
        http.require(self.LABEL, self.fields, values, ("account_sid", "auth_token", *names))
        return s

    def client(self, s: TwilioSettings | None = None):
        s = s or self._require()
        return Client(s.account_sid, s.auth_token, http_client=PooledTwilioHttp())

    def async_client(self, s: TwilioSettings):
        return Client(s.account_sid, s.auth_token, http_client=AsyncPooledTwilioHttp())

    # --- sending ---------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s = self._require(*self.required_for_send())
        self.check_settings(s)
        client = self.async_client(s)
        # Parameters are built up front (outside the event loop): a bad message fails alone.
        prepared: dict[str, dict[str, Any] | ProviderError] = {}
        for m in messages:
            try:
                prepared[m.id] = self.build_params(s, m)
            except ProviderError as exc:
                prepared[m.id] = exc

        async def send_one(message: OutboundMessage) -> SendResult:
            params = prepared[message.id]
            if isinstance(params, ProviderError):
                raise params
            resource = await self.call_async(client, lambda: self.create_async(client, params))
            return SendResult(message_id=message.id, provider_message_id=getattr(resource, "sid", None),
                              cost=self.cost(message))

        return http.send_concurrent(messages, send_one)

    def required_for_send(self) -> tuple[str, ...]:
        return ()

    def check_settings(self, s: TwilioSettings) -> None:
        """Raise ConfigurationError for settings the form could not validate on its own."""

    def build_params(self, s: TwilioSettings, message: OutboundMessage) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, client, params: dict[str, Any]):
        raise NotImplementedError

    async def create_async(self, client, params: dict[str, Any]):
        raise NotImplementedError

    def status_callback(self, message: OutboundMessage) -> str:
        return with_delivery_id(self.config.callback_url, message.id)

    def call(self, client, fn):
        """Run one SDK call; Twilio REST errors become classified ProviderErrors."""
        try:
            return fn()
        except TwilioRestException as exc:
            last = getattr(client.http_client, "last_response", None)
            raise self.classify(exc.status, exc.code, exc.msg, getattr(last, "headers", None) or {}) from exc
        except TwilioException as exc:
            raise ProviderError(f"Twilio: {exc}", code="twilio") from exc

    async def call_async(self, client, fn):
        """call() for the SDK's coroutines."""
        try:
            return await fn()
        except TwilioRestException as exc:
            last = getattr(client.http_client, "last_response", None)
            raise self.classify(exc.status, exc.code, exc.msg, getattr(last, "headers", None) or {}) from exc
        except TwilioException as exc:
            raise ProviderError(f"Twilio: {exc}", code="twilio") from exc

    # --- errors ----------------------------------------------------------------------------

    def classify(self, status: int, code: Any, message: str = "", headers: Mapping[str, str] | None = None
                 ) -> ProviderError:
        try:
            number = int(code) if code is not None else None
        except (TypeError, ValueError):
            number = None
        text = str(message or f"HTTP {status}")
        code_str = str(number) if number is not None else str(status)
        headers = headers or {}
        if status == 429 or number in self.RATE_LIMIT_CODES:
            return ProviderError(text, code=code_str, retry_after=_retry_after(headers, self.DEFAULT_RETRY_AFTER))
        if status == 401 or number in self.CREDENTIAL_CODES:
            return http.credentials_error(text, code=code_str)
        if number in self.PERMANENT_CODES:
            return ProviderError(text, code=code_str, permanent=True, suppress_recipient=number in self.SUPPRESS_CODES)
        if status >= 500:
            return ProviderError(text, code=code_str, retry_after=_retry_after(headers, None))
        return ProviderError(text, code=code_str, permanent=True)

    # --- account check ---------------------------------------------------------------------

    def test_connection(self) -> str:
        s = self._require()
        client = self.client(s)
        account = self.call(client, lambda: client.api.v2010.accounts(s.account_sid).fetch())
        return f"{account.friendly_name or s.account_sid} ({account.status or 'unknown'})"

    # --- callbacks -------------------------------------------------------------------------

    def verify_callback(self, request) -> bool:
        token = self.settings.auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            return False
        params = {k: request.POST.get(k) for k in request.POST.keys()}
        try:
            return bool(RequestValidator(token).validate(request.build_absolute_uri(), params, signature))
        except Exception:  # noqa: BLE001 - a malformed request is simply not verified
            logger.debug("Twilio signature check failed on a malformed request", exc_info=True)
            return False

    def parse_callback(self, request) -> list[StatusEvent]:
        params = {k: request.POST.get(k) for k in request.POST.keys()}
        return self.parse_params(params, delivery_id=request.GET.get(DELIVERY_PARAM, ""))

    def parse_params(self, params: Mapping[str, str], *, delivery_id: str = "") -> list[StatusEvent]:
        status = str(params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        if status in ("received", "receiving") or (not status and "Body" in params and "CallSid" not in params):
            return [self.inbound_event(params)]
        event = self.status_event(params, delivery_id)
        return [event] if event is not None else []

    STATUS_STAGES: ClassVar[dict[str, Stage]] = {
        "sent": Stage.SENT,
        "delivered": Stage.DELIVERED,
        "read": Stage.READ,
        "failed": Stage.FAILED,
        "undelivered": Stage.FAILED,
    }

    def status_event(self, params: Mapping[str, str], delivery_id: str) -> StatusEvent | None:
        status = str(params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        stage = self.STATUS_STAGES.get(status)
        if stage is None:  # queued, accepted, sending, scheduled: nothing the engine records
            return None
        sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
        return StatusEvent(
            stage=stage,
            provider_message_id=sid,
            message_id=delivery_id,
            occurred_at=datetime.now(UTC),
            event_id=f"{sid}:{status}",
            error_code=str(params.get("ErrorCode") or ""),
            error_message=str(params.get("ErrorMessage") or ""),
            raw=dict(params),
        )

    def inbound_event(self, params: Mapping[str, str]) -> StatusEvent:
        text = str(params.get("Body") or "")
        keyword = keyword_of(text)
        return StatusEvent(
            # A compliance keyword is not engagement; anything else is a reply.
            stage=None if keyword else Stage.REPLIED,
            provider_message_id=str(params.get("OriginalRepliedMessageSid") or ""),
            occurred_at=datetime.now(UTC),
            event_id=str(params.get("MessageSid") or params.get("SmsMessageSid") or ""),
            from_address=address_of(str(params.get("From") or "")),
            text=text,
            keyword=keyword,
            raw=dict(params),
        )


def address_of(value: str) -> str:
    return value.strip().removeprefix("whatsapp:")


def _retry_after(headers: Mapping[str, str], default: float | None) -> float | None:
    return http.retry_after_seconds(headers, default)
