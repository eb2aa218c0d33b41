"""WhatsApp through Meta's WhatsApp Cloud API (Graph API over httpx).

POST {WHATSAPP_API_BASE}/{version}/{phone-number-id}/messages with a bearer token. Business-
initiated messages must use an approved template; free-form messages are only allowed within 24
hours of the contact's last inbound message, which we enforce locally before any HTTP call (Meta
would otherwise accept the request and fail it later with 131047, after charging nothing but
wasting a send slot).

Our delivery id travels as `biz_opaque_callback_data` and comes back on every status webhook.
Webhooks are signed: X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body).

Templates (capabilities.template_approval) go to Meta's review through the WhatsApp Business
Account: POST /{waba-id}/message_templates (a rejected one is edited in place: POST /{template-id}),
and GET /{waba-id}/message_templates?name=... reads status APPROVED / REJECTED / PENDING with
rejected_reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from channels.base import (
    Capabilities,
    ChannelAdapter,
    ConfigField,
    Media,
    OutboundMessage,
    ProviderError,
    SendResult,
    Stage,
    StatusEvent,
    TemplateReview,
    TemplateSpec,
)
from channels.providers import http

logger = logging.getLogger(__name__)

SESSION_WINDOW = timedelta(hours=24)
CLOCK_SKEW = -timedelta(minutes=5)  # an inbound stamp slightly in the future is still "just now"

# Compliance keywords in inbound WhatsApp text (the whole message, case-insensitive).
KEYWORDS = {
    "stop": "stop", "stopall": "stop", "unsubscribe": "stop", "cancel": "stop", "end": "stop",
    "quit": "stop", "optout": "stop", "opt-out": "stop",
    "start": "start", "unstop": "start", "subscribe": "start", "yes": "start",
    "help": "help", "info": "help",
}


def keyword_of(text: str) -> str:
    return KEYWORDS.get(text.strip().strip(".!").lower(), "")


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _parse_iso(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MetaWhatsAppSettings:
    phone_number_id: str
    access_token: str
    app_secret: str
    verify_token: str
    api_version: str
    waba_id: str = ""
    app_id: str = ""

    @classmethod
    def from_config(cls, config) -> MetaWhatsAppSettings:
        s, k = config.settings, config.secrets
        return cls(
            phone_number_id=str(s.get("phone_number_id") or "").strip(),
            access_token=str(k.get("access_token") or "").strip(),
            app_secret=str(k.get("app_secret") or "").strip(),
            verify_token=str(k.get("verify_token") or "").strip(),
            api_version=str(s.get("api_version") or "").strip() or MetaWhatsApp.API_VERSION,
            waba_id=str(s.get("waba_id") or "").strip(),
            app_id=str(s.get("app_id") or "").strip(),
        )


class MetaWhatsApp(ChannelAdapter):
    LABEL = "WhatsApp (Meta Cloud API)"
    API_VERSION = "v21.0"

    capabilities = Capabilities(
        channel="whatsapp",
        max_text_length=4096,
        media_types=frozenset({
            "image/jpeg", "image/png", "video/mp4", "video/3gpp", "application/pdf",
            "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        }),
        read_receipts=True,
        templates_required=True,
        template_approval=True,
        max_batch=100,
        # Cloud API's default throughput per business phone number.
        default_rate_per_second=80.0,
        callbacks=True,
    )
    fields = (
        ConfigField("phone_number_id", "Phone number ID", help="From WhatsApp Manager > API setup (not the phone number itself)."),
        ConfigField("api_version", "Graph API version", required=False, help=f"Defaults to {API_VERSION}."),
        ConfigField("waba_id", "WhatsApp Business Account ID", required=False,
                    help="From WhatsApp Manager > Account tools; needed to submit templates for approval."),
        ConfigField("app_id", "Meta app ID", required=False,
                    help="From your Meta app's dashboard; needed to submit templates with an image, video or "
                         "document header (the example file is uploaded to the app)."),
        ConfigField("access_token", "Access token", secret=True, help="A permanent System User token with whatsapp_business_messaging."),
        ConfigField("app_secret", "App secret", secret=True, help="Meta app secret; used to verify X-Hub-Signature-256 on webhooks."),
        ConfigField("verify_token", "Webhook verify token", secret=True, required=False,
                    help="Generated for you; paste it into the webhook settings of your Meta app."),
    )

    # Meta error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({
        100,     # invalid parameter
        131008,  # required parameter missing
        131009,  # parameter value invalid
        131021,  # recipient cannot be sender
        131026,  # message undeliverable (not on WhatsApp, old app, ...)
        131047,  # re-engagement: more than 24 hours since the last reply
        131050,  # user stopped marketing messages from this business
        131051,  # unsupported message type
        131052, 131053,  # media download / upload error
        132000, 132001, 132005, 132007, 132012, 132015, 132016,  # template problems
        133010,  # phone number not registered
        368,     # temporarily blocked for policy violations
    })
    CREDENTIAL_CODES: ClassVar[frozenset[int]] = frozenset({190, 10, 200, 131005, 131031, 3})
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({4, 80007, 130429, 131048, 131056, 613})
    TRANSIENT_CODES: ClassVar[frozenset[int]] = frozenset({1, 2, 131000, 131016, 133004})
    # The user opted out of this business's marketing messages: never message them again.
    SUPPRESS_CODES: ClassVar[frozenset[int]] = frozenset({131050})
    # Meta sends no Retry-After; pair rate limit (131056) is about one message per 6 s per user.
    DEFAULT_RETRY_AFTER: ClassVar[dict[int, float]] = {131056: 6.0, 130429: 1.0, 80007: 60.0, 4: 60.0}

    STATUS_STAGES: ClassVar[dict[str, Stage]] = {
        "sent": Stage.SENT,
        "delivered": Stage.DELIVERED,
        "read": Stage.READ,
        "failed": Stage.FAILED,
    }

    @classmethod
    def generate_secrets(cls) -> dict[str, str]:
        return {"verify_token": secrets.token_urlsafe(24)}

    # --- configuration ----------------------------------------------------------------------

    @property
    def settings(self) -> MetaWhatsAppSettings:
        return MetaWhatsAppSettings.from_config(self.config)

    def _require(self, *names: str) -> MetaWhatsAppSettings:
        s = self.settings
        values = {**self.config.settings, **self.config.secrets}
        http.require(self.LABEL, self.fields, values, names)
        return s

    def _url(self, s: MetaWhatsAppSettings, path: str) -> str:
        return f"{http.setting('WHATSAPP_API_BASE')}/{s.api_version}/{path.lstrip('/')}"

    # --- sending ---------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s = self._require("phone_number_id", "access_token")
        now = datetime.now(UTC)
        return http.send_each(messages, lambda m: self._send_one(s, m, now))

    def _send_one(self, s: MetaWhatsAppSettings, message: OutboundMessage, now: datetime) -> SendResult:
        payload = self.build_payload(message, now=now)
        response = http.request(
            "POST",
            self._url(s, f"{s.phone_number_id}/messages"),
            json=payload,
            headers={"Authorization": f"Bearer {s.access_token}"},
        )
        if response.status_code >= 400:
            raise self.classify(response.status_code, http.json_or_empty(response), response.headers)
        data = http.json_or_empty(response)
        ids = [m.get("id") for m in data.get("messages") or [] if isinstance(m, dict)]
        return SendResult(message_id=message.id, provider_message_id=ids[0] if ids else None, cost=self.cost(message))

    def build_payload(self, message: OutboundMessage, *, now: datetime | None = None) -> dict[str, Any]:
        """The Cloud API request body; refuses free-form text outside the 24-hour window."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _wa_number(message.to),
            "biz_opaque_callback_data": message.id,
        }
        if message.template is not None:
            payload["type"] = "template"
            payload["template"] = _template_body(message)
            return payload

        if not self.in_session_window(message, now or datetime.now(UTC)):
            raise ProviderError(
                "WhatsApp allows free-form messages only within 24 hours of the contact's last "
                "message to you; use an approved template instead.",
                code="outside_session_window",
                permanent=True,
            )
        if message.media:
            media = message.media[0]
            kind = _media_kind(media)
            body: dict[str, Any] = {"link": media.url}
            if message.text and kind != "audio":
                body["caption"] = message.text
            if kind == "document" and media.filename:
                body["filename"] = media.filename
            payload["type"] = kind
            payload[kind] = body
        else:
            if not message.text.strip():
                raise ProviderError("The WhatsApp message has no text.", code="empty_message", permanent=True)
            payload["type"] = "text"
            payload["text"] = {"body": message.text, "preview_url": bool(message.options.get("preview_url", False))}
        return payload

    @staticmethod
    def in_session_window(message: OutboundMessage, now: datetime) -> bool:
        last_inbound = _parse_iso(message.options.get("last_inbound_at"))
        return last_inbound is not None and CLOCK_SKEW <= now - last_inbound < SESSION_WINDOW

    # --- errors ----------------------------------------------------------------------------

    def classify(self, status: int, body: dict, headers=None) -> ProviderError:
        """Turn a Graph API error response into a ProviderError (the one classification hook)."""
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        raw_code = error.get("code")
        try:
            code = int(raw_code)
        except (TypeError, ValueError):
            code = None
        text = str(error.get("message") or f"HTTP {status}")
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
        if details and details not in text:
            text = f"{text}: {details}"
        code_str = str(code) if code is not None else str(status)

        if status == 429 or code in self.RATE_LIMIT_CODES:
            retry = http.retry_after_seconds(headers or {}, self.DEFAULT_RETRY_AFTER.get(code or 0))
            return ProviderError(text, code=code_str, retry_after=retry)
        if code in self.CREDENTIAL_CODES or status == 401:
            return http.credentials_error(text, code=code_str)
        if code in self.PERMANENT_CODES:
            return ProviderError(text, code=code_str, permanent=True, suppress_recipient=code in self.SUPPRESS_CODES)
        if status >= 500 or code in self.TRANSIENT_CODES:
            return ProviderError(text, code=code_str)
        logger.debug("Unclassified WhatsApp error %s: %s", status, body)
        return ProviderError(text, code=code_str, permanent=True)

    # --- templates -------------------------------------------------------------------------

    # Meta's review states -> ours. PAUSED / DISABLED templates can no longer be sent.
    REVIEW_STATES: ClassVar[dict[str, str]] = {
        "APPROVED": TemplateReview.APPROVED, "REJECTED": TemplateReview.REJECTED,
        "DISABLED": TemplateReview.REJECTED, "PAUSED": TemplateReview.REJECTED,
    }

    def _template_components(self, s: MetaWhatsAppSettings, spec: TemplateSpec) -> list[dict[str, Any]]:
        components: list[dict[str, Any]] = []
        if spec.header_media is not None:
            # Meta reviews a media header from an example file uploaded to the app beforehand.
            handle = self._upload_example(s, spec)
            components.append({"type": "HEADER", "format": _media_kind(spec.header_media).upper(),
                               "example": {"header_handle": [handle]}})
        body: dict[str, Any] = {"type": "BODY", "text": spec.body}
        count = len({int(n) for n in _VARIABLE_RE.findall(spec.body)})
        if count:
            # Meta reviews templates with sample values for their variables.
            body["example"] = {"body_text": [[spec.sample(n) for n in range(1, count + 1)]]}
        components.append(body)
        if spec.footer:
            components.append({"type": "FOOTER", "text": spec.footer})
        buttons = []
        for button in spec.buttons:
            if button.get("type") == "url":
                buttons.append({"type": "URL", "text": button.get("text", ""), "url": button.get("url", "")})
            else:
                buttons.append({"type": "QUICK_REPLY", "text": button.get("text", "")})
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        return components

    def _upload_example(self, s: MetaWhatsAppSettings, spec: TemplateSpec) -> str:
        """Meta's Resumable Upload API: open an upload session on the app, send the bytes, get a handle."""
        from channels.base import ConfigurationError

        if not s.app_id:
            raise ConfigurationError(f"{self.LABEL}: set the Meta app ID on the channel's settings page to submit "
                                     "templates with a media header.")
        if not spec.header_bytes:
            raise ProviderError("The header file could not be read.", code="template_header_media", permanent=True)
        media = spec.header_media
        session = self._graph("POST", s, f"{s.app_id}/uploads", params={
            "file_name": media.filename or "header", "file_length": len(spec.header_bytes),
            "file_type": media.content_type})
        upload_id = str(session.get("id") or "")
        if not upload_id:
            raise ProviderError("Meta did not open an upload session.", code="template_header_media")
        response = http.request("POST", self._url(s, upload_id), content=spec.header_bytes,
                                headers={"Authorization": f"OAuth {s.access_token}", "file_offset": "0"})
        data = http.json_or_empty(response)
        if response.status_code >= 400:
            raise self.classify(response.status_code, data, response.headers)
        if not data.get("h"):
            raise ProviderError("Meta did not return a handle for the uploaded header.", code="template_header_media")
        return str(data["h"])

    def _require_waba(self) -> MetaWhatsAppSettings:
        s = self._require("access_token")
        if not s.waba_id:
            from channels.base import ConfigurationError

            raise ConfigurationError(f"{self.LABEL}: set the WhatsApp Business Account ID on the channel's settings "
                                     "page to submit templates.")
        return s

    def _graph(self, method: str, s: MetaWhatsAppSettings, path: str, **kwargs) -> dict[str, Any]:
        response = http.request(method, self._url(s, path), headers={"Authorization": f"Bearer {s.access_token}"},
                                **kwargs)
        data = http.json_or_empty(response)
        if response.status_code >= 400:
            raise self.classify(response.status_code, data, response.headers)
        return data

    def submit_template(self, spec: TemplateSpec) -> TemplateReview:
        s = self._require_waba()
        components = self._template_components(s, spec)
        if spec.provider_id:
            # Meta keeps a rejected template under its id: resubmitting is an edit of it.
            self._graph("POST", s, spec.provider_id, json={"category": spec.category.upper(), "components": components})
            return TemplateReview(status=TemplateReview.SUBMITTED, provider_id=spec.provider_id)
        data = self._graph("POST", s, f"{s.waba_id}/message_templates", json={
            "name": spec.name, "language": spec.language, "category": spec.category.upper(), "components": components,
        })
        state = self.REVIEW_STATES.get(str(data.get("status", "")).upper(), TemplateReview.SUBMITTED)
        return TemplateReview(status=state, provider_id=str(data.get("id", "")))

    def template_review(self, spec: TemplateSpec) -> TemplateReview:
        s = self._require_waba()
        data = self._graph("GET", s, f"{s.waba_id}/message_templates", params={
            "name": spec.name, "fields": "id,name,language,status,category,rejected_reason", "limit": 100,
        })
        rows = [r for r in data.get("data") or [] if isinstance(r, dict) and r.get("name") == spec.name]
        # "en" and "en_US" are different templates to Meta; prefer the id, then the exact language.
        row = next((r for r in rows if spec.provider_id and str(r.get("id")) == spec.provider_id), None) or \
            next((r for r in rows if r.get("language") == spec.language), None)
        if row is None:
            raise ProviderError(f"Meta has no template {spec.name!r} ({spec.language}) on this account.",
                                code="template_not_found", permanent=True)
        status = str(row.get("status", "")).upper()
        state = self.REVIEW_STATES.get(status, TemplateReview.SUBMITTED)
        reason = ""
        if state == TemplateReview.REJECTED:
            raw = str(row.get("rejected_reason") or "")
            reason = REJECTION_REASONS.get(raw, raw.replace("_", " ").capitalize()) if raw and raw != "NONE" else ""
            if status in ("DISABLED", "PAUSED"):
                reason = f"{status.capitalize()} by WhatsApp{': ' + reason if reason else ''}"
        return TemplateReview(status=state, reason=reason, provider_id=str(row.get("id") or spec.provider_id))

    # --- account check ---------------------------------------------------------------------

    def test_connection(self) -> str:
        s = self._require("phone_number_id", "access_token")
        response = http.request(
            "GET",
            self._url(s, s.phone_number_id),
            params={"fields": "display_phone_number,verified_name,quality_rating"},
            headers={"Authorization": f"Bearer {s.access_token}"},
        )
        data = http.json_or_empty(response)
        if response.status_code >= 400:
            raise self.classify(response.status_code, data, response.headers)
        name = data.get("verified_name") or "WhatsApp number"
        number = data.get("display_phone_number") or s.phone_number_id
        return f"{name} ({number})"

    # --- webhooks --------------------------------------------------------------------------

    def verify_subscription(self, request):
        """Answer Meta's GET handshake (hub.mode=subscribe, hub.verify_token, hub.challenge).

        Returns None when the request is not a handshake, 403 when the token is wrong.
        """
        from django.http import HttpResponse, HttpResponseForbidden

        if request.method != "GET" or request.GET.get("hub.mode") is None:
            return None
        expected = self.settings.verify_token
        given = request.GET.get("hub.verify_token", "")
        if (
            request.GET.get("hub.mode") == "subscribe"
            and expected
            and hmac.compare_digest(given.encode(), expected.encode())
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("Verify token mismatch")

    def verify_callback(self, request) -> bool:
        secret = self.settings.app_secret
        header = request.headers.get("X-Hub-Signature-256", "")
        if not secret or not header.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header.removeprefix("sha256=").strip().lower(), expected)

    def parse_callback(self, request) -> list[StatusEvent]:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return []
        return self.parse_payload(payload)

    def parse_payload(self, payload: dict) -> list[StatusEvent]:
        events: list[StatusEvent] = []
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                for status in value.get("statuses") or []:
                    event = self._status_event(status)
                    if event is not None:
                        events.append(event)
                for inbound in value.get("messages") or []:
                    events.append(self._inbound_event(inbound))
        return events

    def _status_event(self, status: dict) -> StatusEvent | None:
        stage = self.STATUS_STAGES.get(str(status.get("status", "")).lower())
        if stage is None:  # "deleted", "warning": nothing to record
            return None
        errors = status.get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        message = first.get("message") or first.get("title") or ""
        details = (first.get("error_data") or {}).get("details") if isinstance(first.get("error_data"), dict) else ""
        if details and details not in message:
            message = f"{message}: {details}" if message else details
        return StatusEvent(
            stage=stage,
            provider_message_id=str(status.get("id", "")),
            message_id=str(status.get("biz_opaque_callback_data") or ""),
            occurred_at=_timestamp(status.get("timestamp")),
            event_id=f"{status.get('id', '')}:{status.get('status', '')}",
            error_code=str(first.get("code", "")) if first else "",
            error_message=message,
            raw=status,
        )

    def _inbound_event(self, inbound: dict) -> StatusEvent:
        kind = inbound.get("type")
        text = ""
        if kind == "text":
            text = (inbound.get("text") or {}).get("body", "")
        elif kind == "button":  # quick-reply button on a template
            text = (inbound.get("button") or {}).get("text", "")
        elif kind == "interactive":
            interactive = inbound.get("interactive") or {}
            reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
            text = reply.get("title", "")
        elif isinstance(inbound.get(kind), dict):
            text = inbound[kind].get("caption", "")
        sender = str(inbound.get("from", ""))
        context = inbound.get("context") or {}
        return StatusEvent(
            # Every inbound message counts as a reply; provider_message_id names the message it
            # quotes, when it quotes one, else the engine matches on from_address.
            stage=Stage.REPLIED,
            provider_message_id=str(context.get("id", "")),
            occurred_at=_timestamp(inbound.get("timestamp")),
            event_id=str(inbound.get("id", "")),
            from_address=f"+{sender}" if sender and not sender.startswith("+") else sender,
            text=text,
            keyword=keyword_of(text) if kind in ("text", "button") else "",
            raw=inbound,
        )


_VARIABLE_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# Meta's rejected_reason codes, in words a marketer can act on.
REJECTION_REASONS = {
    "INVALID_FORMAT": "Invalid format: check the variables, length and formatting.",
    "PROMOTIONAL": "Promotional content in a utility or authentication template: use the marketing category.",
    "TAG_CONTENT_MISMATCH": "The content doesn't match the chosen category.",
    "INCORRECT_CATEGORY": "The content doesn't match the chosen category.",
    "ABUSIVE_CONTENT": "The content breaks WhatsApp's policies.",
    "SCAM": "Flagged as a possible scam.",
}


def _wa_number(to: str) -> str:
    """Cloud API wants the number in international form; digits only is the documented shape."""
    number = to.strip().removeprefix("whatsapp:")
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        raise ProviderError(f"{to!r} is not a phone number.", code="invalid_recipient", permanent=True)
    return digits


def _media_kind(media: Media) -> str:
    ctype = media.content_type.lower()
    if ctype.startswith("image/"):
        return "image"
    if ctype.startswith("video/"):
        return "video"
    if ctype.startswith("audio/"):
        return "audio"
    return "document"


def _template_body(message: OutboundMessage) -> dict[str, Any]:
    template = message.template
    assert template is not None
    components: list[dict[str, Any]] = []
    if template.header_media is not None:
        kind = _media_kind(template.header_media)
        media: dict[str, Any] = {"link": template.header_media.url}
        if kind == "document" and template.header_media.filename:
            media["filename"] = template.header_media.filename
        components.append({"type": "header", "parameters": [{"type": kind, kind: media}]})
    if template.variables:
        components.append({
            "type": "body",
            "parameters": [{"type": "text", "text": str(value)} for value in template.variables],
        })
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language or "en"}}
    if components:
        body["components"] = components
    return body
