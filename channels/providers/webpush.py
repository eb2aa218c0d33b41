"""Web push through pywebpush with VAPID keys generated per tenant.

The subscription arrives as OutboundMessage.to (the push service endpoint) plus
options["keys"] = {"p256dh", "auth"} (what the browser's PushManager.subscribe() returned).
The payload is JSON {title, body, url, icon, id} read by static/push-sw.js.

A push service answering 404 or 410 says the subscription is gone for good: that is a permanent
error with suppress_recipient=True, and the engine deletes the PushSubscription.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

from channels.base import (
    Capabilities,
    ChannelAdapter,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
    SendResult,
)
from channels.providers import http

logger = logging.getLogger(__name__)


def public_key_of(vapid: Vapid) -> str:
    """The application server key the browser needs: uncompressed P-256 point, urlsafe b64."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(raw)


@dataclass(frozen=True)
class WebPushSettings:
    contact_email: str
    vapid_private_key: str
    vapid_public_key: str
    site_name: str
    icon_url: str
    ttl: int


class WebPush(ChannelAdapter):
    LABEL = "Web push"
    DEFAULT_TTL = 24 * 3600  # a sale notification older than a day is noise
    TIMEOUT_SECONDS = 15.0

    capabilities = Capabilities(
        channel="push",
        # Push services cap the encrypted payload at 4 KB; title + body + url must fit in it.
        max_text_length=1000,
        media_types=frozenset({"image/png", "image/jpeg", "image/webp"}),
        read_receipts=False,
        templates_required=False,
        max_batch=500,
        default_rate_per_second=200.0,
        callbacks=False,
    )
    fields = (
        ConfigField("contact_email", "Contact email", help="Push services contact this address about problems (VAPID subject)."),
        ConfigField("site_name", "Site name", required=False, help="Shown on the subscribe page and as the default notification title."),
        ConfigField("icon_url", "Notification icon URL", required=False),
        ConfigField("ttl", "Time to live (seconds)", required=False, help="How long a push service keeps an undelivered notification. Default 86400."),
        ConfigField("vapid_private_key", "VAPID private key", secret=True, help="Generated for you."),
        ConfigField("vapid_public_key", "VAPID public key", secret=True, help="Generated for you; the browser subscribes with it."),
    )

    # HTTP statuses from push services (RFC 8030 and the FCM / Mozilla / Apple docs).
    GONE_STATUSES: ClassVar[frozenset[int]] = frozenset({404, 410})
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({400, 401, 403, 404, 410, 413})

    @classmethod
    def generate_secrets(cls) -> dict[str, str]:
        vapid = Vapid()
        vapid.generate_keys()
        private_value = vapid.private_key.private_numbers().private_value
        return {
            # Raw 32-byte scalar, urlsafe base64: what py_vapid's from_string() reads back.
            "vapid_private_key": b64urlencode(private_value.to_bytes(32, "big")),
            "vapid_public_key": public_key_of(vapid),
        }

    @property
    def settings(self) -> WebPushSettings:
        s, k = self.config.settings, self.config.secrets
        try:
            ttl = int(s.get("ttl") or self.DEFAULT_TTL)
        except (TypeError, ValueError):
            raise ConfigurationError("Web push: time to live must be a whole number of seconds.") from None
        return WebPushSettings(
            contact_email=str(s.get("contact_email") or "").strip(),
            vapid_private_key=str(k.get("vapid_private_key") or "").strip(),
            vapid_public_key=str(k.get("vapid_public_key") or "").strip(),
            site_name=str(s.get("site_name") or "").strip(),
            icon_url=str(s.get("icon_url") or "").strip(),
            ttl=max(0, ttl),
        )

    def _vapid(self) -> tuple[WebPushSettings, Vapid]:
        http.require(self.LABEL, self.fields, {**self.config.settings, **self.config.secrets},
                     ("contact_email", "vapid_private_key"))
        s = self.settings
        try:
            vapid = Vapid.from_string(s.vapid_private_key)
        except Exception as exc:  # noqa: BLE001 - py_vapid raises assorted decode errors
            raise ConfigurationError(f"Web push: the VAPID private key cannot be read ({exc.__class__.__name__}).") from exc
        return s, vapid

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s, vapid = self._vapid()
        subject = s.contact_email if s.contact_email.startswith(("mailto:", "https://")) else f"mailto:{s.contact_email}"
        return http.send_each(messages, lambda m: self._send_one(s, vapid, subject, m))

    def payload(self, message: OutboundMessage, s: WebPushSettings | None = None) -> dict[str, Any]:
        s = s or self.settings
        data: dict[str, Any] = {
            "title": message.title or message.subject or s.site_name or "Notification",
            "body": message.text,
            "url": message.url,
            "icon": message.options.get("icon") or s.icon_url,
            "id": message.id,  # lets the service worker report clicks against our delivery
        }
        if message.media:
            data["image"] = message.media[0].url
        return data

    def _send_one(self, s: WebPushSettings, vapid: Vapid, subject: str, message: OutboundMessage) -> SendResult:
        keys = message.options.get("keys") or {}
        if not message.to or not keys.get("p256dh") or not keys.get("auth"):
            raise ProviderError("The push subscription has no endpoint or keys.", code="invalid_subscription",
                                permanent=True, suppress_recipient=True)
        subscription = {"endpoint": message.to, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}
        try:
            response = webpush(
                subscription,
                data=json.dumps(self.payload(message, s), separators=(",", ":")),
                vapid_private_key=vapid,
                vapid_claims={"sub": subject},  # a fresh dict: webpush() writes aud/exp into it
                ttl=s.ttl,
                timeout=self.TIMEOUT_SECONDS,
                headers={"Urgency": str(message.options.get("urgency", "normal"))},
                requests_session=http.requests_session(),
            )
        except WebPushException as exc:
            raise self.classify(exc) from exc
        except requests.Timeout as exc:
            raise ProviderError("Timed out calling the push service.", code="timeout") from exc
        except requests.RequestException as exc:
            raise ProviderError(f"Network error calling the push service: {exc.__class__.__name__}", code="network") from exc
        except ValueError as exc:  # undecodable p256dh / auth
            raise ProviderError(f"Invalid push subscription: {exc}", code="invalid_subscription",
                                permanent=True, suppress_recipient=True) from exc
        location = response.headers.get("Location", "") if hasattr(response, "headers") else ""
        return SendResult(message_id=message.id, provider_message_id=location or None, cost=self.cost(message))

    def classify(self, exc: WebPushException) -> ProviderError:
        """The one classification hook: a push service's HTTP status to a ProviderError."""
        status = exc.status_code
        body = ""
        if exc.response is not None:
            body = (getattr(exc.response, "text", "") or "").strip()[:300]
        if status is None:
            # Raised before any request: the subscription's keys are malformed.
            return ProviderError(f"Invalid push subscription: {exc.message}", code="invalid_subscription",
                                 permanent=True, suppress_recipient=True)
        text = f"Push service answered {status}" + (f": {body}" if body else "")
        if status in self.GONE_STATUSES:
            return ProviderError(text, code="subscription_gone", permanent=True, suppress_recipient=True)
        if status == 429:
            return ProviderError(text, code="429", retry_after=http.retry_after_seconds(exc.response.headers))
        if status >= 500:
            return ProviderError(text, code=str(status), retry_after=http.retry_after_seconds(exc.response.headers))
        if status in (401, 403):
            # The subscription was made with another application server key, or the JWT is bad.
            return ProviderError(text, code="vapid_rejected", permanent=True)
        if status == 413:
            return ProviderError(text, code="payload_too_large", permanent=True)
        logger.debug("Unclassified push service answer %s: %s", status, body)
        return ProviderError(text, code=str(status), permanent=True)

    def test_connection(self) -> str:
        """There is no account to call: check the key pair is whole and consistent."""
        s, vapid = self._vapid()
        derived = public_key_of(vapid)
        if s.vapid_public_key and s.vapid_public_key != derived:
            raise ConfigurationError("Web push: the VAPID public key does not match the private key; generate a new pair.")
        return f"VAPID key pair valid (public key {derived[:12]}…), contact {s.contact_email}"
