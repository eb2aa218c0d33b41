"""Email through SendGrid's v3 Mail Send API, with the official `sendgrid` SDK.

SendGridAPIClient(api_key, host=settings.SENDGRID_API_HOST) is built per send (host read at call
time). One request carries up to 1000 personalizations that share one body: messages are grouped
by their content (html, text, sender, reply-to), and each message is one personalization with its
own recipient, subject, headers (List-Unsubscribe, List-Unsubscribe-Post), substitutions
(options["substitutions"]) and custom_args {"delivery_id": <OutboundMessage.id>}, which SendGrid
echoes on every event. The request's X-Message-Id is the provider message id (events carry it as
the prefix of sg_message_id).

Event Webhook requests are signed: ECDSA P-256 / SHA-256 over timestamp + raw body, the
signature (base64 DER) in X-Twilio-Email-Event-Webhook-Signature and the timestamp in
X-Twilio-Email-Event-Webhook-Timestamp; the verification key (base64 DER or PEM) is on the
SendGrid Mail Settings page. Timestamps more than 5 minutes old are refused (replay).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import socket
import time
import urllib.error
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from python_http_client import exceptions as sg_errors
from sendgrid import SendGridAPIClient

from channels.base import (
    Capabilities,
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

MAX_PERSONALIZATIONS = 1000
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_EVENT_AGE = 5 * 60
PASSED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")


@dataclass(frozen=True)
class SendGridSettings:
    api_key: str
    from_email: str
    from_name: str
    reply_to: str
    webhook_public_key: str

    @classmethod
    def from_config(cls, config) -> SendGridSettings:
        s, k = config.settings, config.secrets
        return cls(
            api_key=str(k.get("api_key") or "").strip(),
            from_email=str(s.get("from_email") or "").strip(),
            from_name=str(s.get("from_name") or "").strip(),
            reply_to=str(s.get("reply_to") or "").strip(),
            webhook_public_key=str(s.get("webhook_public_key") or k.get("webhook_public_key") or "").strip(),
        )


def load_public_key(value: str) -> ec.EllipticCurvePublicKey | None:
    """SendGrid's verification key: base64 of the DER SubjectPublicKeyInfo, or a PEM block."""
    value = value.strip()
    if not value:
        return None
    try:
        if value.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(value.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(value))
    except (ValueError, binascii.Error, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


class SendGridEmail(ChannelAdapter):
    LABEL = "SendGrid"

    capabilities = Capabilities(
        channel="email",
        max_text_length=None,
        read_receipts=True,
        max_batch=MAX_PERSONALIZATIONS,
        default_rate_per_second=100.0,
        callbacks=True,
        substitutions=True,
    )
    fields = (
        ConfigField("api_key", "API key", secret=True, help="A SendGrid API key with the Mail Send permission."),
        ConfigField("from_email", "From address", help="A verified sender or an address on an authenticated domain."),
        ConfigField("from_name", "From name", required=False),
        ConfigField("reply_to", "Reply-to address", required=False),
        ConfigField("webhook_public_key", "Event Webhook verification key", required=False,
                    help="Settings > Mail Settings > Event Webhook > Signed Event Webhook: the public key."),
    )

    STAGES: ClassVar[dict[str, Stage]] = {
        "delivered": Stage.DELIVERED,
        "open": Stage.READ,
        "click": Stage.CLICKED,
        "bounce": Stage.FAILED,
        "dropped": Stage.FAILED,
    }
    STOP_EVENTS: ClassVar[frozenset[str]] = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})

    @property
    def settings(self) -> SendGridSettings:
        return SendGridSettings.from_config(self.config)

    def _require(self, *names: str) -> SendGridSettings:
        values = {**self.config.settings, **self.config.secrets}
        http.require(self.LABEL, self.fields, values, names)
        return self.settings

    def client(self, s: SendGridSettings) -> SendGridAPIClient:
        sg = SendGridAPIClient(api_key=s.api_key, host=http.setting("SENDGRID_API_HOST"))
        sg.client.timeout = http.TIMEOUT.read
        return sg

    # --- sending ---------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s = self._require("api_key", "from_email")
        sg = self.client(s)
        results: dict[str, SendResult] = {}
        stop: ProviderError | None = None
        for chunk in self.chunks(messages):
            if stop is not None:
                for m in chunk:
                    results[m.id] = SendResult(message_id=m.id, error=stop)
                continue
            try:
                message_id = self._post(sg, self.build_body(s, chunk))
            except ProviderError as exc:
                for m in chunk:
                    results[m.id] = SendResult(message_id=m.id, error=exc)
                if http.halts_batch(exc):
                    stop = exc
                continue
            for m in chunk:
                results[m.id] = SendResult(message_id=m.id, provider_message_id=message_id, cost=self.cost(m))
        return [results[m.id] for m in messages]

    @staticmethod
    def _content_key(message: OutboundMessage) -> tuple:
        return (message.html, message.text, str(message.options.get("from_email") or ""),
                str(message.options.get("from_name") or ""), str(message.options.get("reply_to") or ""))

    def chunks(self, messages: Sequence[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Messages sharing one body, at most 1000 per request, in first-seen order."""
        groups: dict[tuple, list[OutboundMessage]] = {}
        for message in messages:
            groups.setdefault(self._content_key(message), []).append(message)
        out: list[list[OutboundMessage]] = []
        for group in groups.values():
            out.extend(group[i:i + MAX_PERSONALIZATIONS] for i in range(0, len(group), MAX_PERSONALIZATIONS))
        return out

    def build_body(self, s: SendGridSettings, chunk: Sequence[OutboundMessage]) -> dict[str, Any]:
        first = chunk[0]
        if not first.html.strip() and not first.text.strip():
            raise ProviderError("The email has no content.", code="empty_message", permanent=True)
        sender: dict[str, str] = {"email": str(first.options.get("from_email") or s.from_email)}
        name = str(first.options.get("from_name") or s.from_name)
        if name:
            sender["name"] = name
        body: dict[str, Any] = {"from": sender, "personalizations": [self.personalization(m) for m in chunk]}
        content = []
        if first.text.strip():
            content.append({"type": "text/plain", "value": first.text})
        if first.html.strip():
            content.append({"type": "text/html", "value": first.html})
        body["content"] = content
        reply_to = str(first.options.get("reply_to") or s.reply_to)
        if reply_to:
            body["reply_to"] = {"email": reply_to}
        # A request-level subject is required when a personalization has none.
        body["subject"] = first.subject or "(no subject)"
        return body

    @staticmethod
    def personalization(message: OutboundMessage) -> dict[str, Any]:
        to: dict[str, str] = {"email": message.to.strip()}
        if message.options.get("to_name"):
            to["name"] = str(message.options["to_name"])
        item: dict[str, Any] = {"to": [to], "custom_args": {"delivery_id": message.id}}
        if message.subject:
            item["subject"] = message.subject
        headers = {k: str(v) for k, v in message.headers.items() if k in PASSED_HEADERS}
        if headers:
            item["headers"] = headers
        substitutions = message.options.get("substitutions")
        if isinstance(substitutions, dict) and substitutions:
            item["substitutions"] = {str(k): str(v) for k, v in substitutions.items()}
        return item

    def _post(self, sg: SendGridAPIClient, body: dict[str, Any]) -> str | None:
        response = self._call(lambda: sg.send(body))
        headers = getattr(response, "headers", None) or {}
        return headers.get("X-Message-Id") or headers.get("x-message-id")

    def _call(self, fn):
        host = http.setting("SENDGRID_API_HOST")
        try:
            return fn()
        except sg_errors.HTTPError as exc:
            raise self.classify(int(exc.status_code), exc.body, exc.headers or {}) from exc
        except TimeoutError as exc:
            raise ProviderError(f"Timed out calling {host}", code="timeout") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise ProviderError(f"Timed out calling {host}", code="timeout") from exc
            raise ProviderError(f"Network error calling {host}: {exc.reason}", code="network") from exc
        except OSError as exc:
            raise ProviderError(f"Network error calling {host}: {exc}", code="network") from exc

    # --- errors ----------------------------------------------------------------------------

    def classify(self, status: int, body: Any, headers=None) -> ProviderError:
        headers = headers or {}
        try:
            data = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
        except (ValueError, AttributeError):
            data = {}
        errors = data.get("errors") if isinstance(data, dict) else None
        messages = [str(e.get("message")) for e in errors or [] if isinstance(e, dict) and e.get("message")]
        text = "; ".join(messages) or f"HTTP {status}"
        code = str(status)
        if status == 429:
            retry = http.retry_after_seconds(headers, None)
            if retry is None:
                reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
                try:
                    retry = max(0.0, float(reset) - time.time()) if reset else 1.0
                except ValueError:
                    retry = 1.0
            return ProviderError(text, code=code, retry_after=retry)
        if status in (401, 403):
            return http.credentials_error(text, code=code)
        if status >= 500:
            return ProviderError(text, code=code, retry_after=http.retry_after_seconds(headers, None))
        return ProviderError(text, code=code, permanent=True)

    # --- account check ---------------------------------------------------------------------

    def test_connection(self) -> str:
        s = self._require("api_key")
        sg = self.client(s)
        response = self._call(lambda: sg.client.scopes.get())
        try:
            scopes = json.loads(response.body or b"{}").get("scopes") or []
        except ValueError:
            scopes = []
        if "mail.send" not in scopes:
            raise ProviderError("This SendGrid API key cannot send mail (it lacks the Mail Send permission).",
                                code="scopes", permanent=True)
        return f"API key with Mail Send ({len(scopes)} scopes)"

    # --- Event Webhook ---------------------------------------------------------------------

    def verify_callback(self, request) -> bool:
        key = load_public_key(self.settings.webhook_public_key)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        return key is not None and verify_signature(key, signature, timestamp, request.body)

    def parse_callback(self, request) -> list[StatusEvent]:
        try:
            payload = json.loads(request.body or b"[]")
        except ValueError:
            return []
        return self.parse_events(payload if isinstance(payload, list) else [])

    def parse_events(self, events: list[Any]) -> list[StatusEvent]:
        out = []
        for event in events:
            if isinstance(event, dict):
                parsed = self._event(event)
                if parsed is not None:
                    out.append(parsed)
        return out

    def _event(self, event: dict[str, Any]) -> StatusEvent | None:
        kind = str(event.get("event") or "")
        stage = self.STAGES.get(kind)
        keyword = "stop" if kind in self.STOP_EVENTS else ""
        if stage is None and not keyword:  # processed, deferred, group_resubscribe ...
            return None
        try:
            occurred = datetime.fromtimestamp(int(event.get("timestamp")), tz=UTC)
        except (TypeError, ValueError, OverflowError):
            occurred = None
        sg_message_id = str(event.get("sg_message_id") or "")
        return StatusEvent(
            stage=stage,
            provider_message_id=sg_message_id.split(".", 1)[0],
            message_id=str(event.get("delivery_id") or ""),
            occurred_at=occurred,
            event_id=str(event.get("sg_event_id") or ""),
            error_code=str(event.get("status") or event.get("type") or "") if stage == Stage.FAILED else "",
            error_message=str(event.get("reason") or "") if stage == Stage.FAILED else "",
            from_address=str(event.get("email") or "") if keyword else "",
            keyword=keyword,
            raw=event,
        )


def verify_signature(key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes,
                     *, now: float | None = None) -> bool:
    """ECDSA P-256/SHA-256 over timestamp + body; refuses timestamps more than 5 minutes off."""
    if not signature or not timestamp:
        return False
    try:
        sent_at = int(timestamp)
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > MAX_EVENT_AGE:
        return False
    try:
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
