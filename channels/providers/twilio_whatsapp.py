"""WhatsApp through Twilio's Messages API ("whatsapp:" addresses), with the official SDK.

Business-initiated messages use an approved Content template: message.template.provider_id is
its Content SID (HX...), variables go as ContentVariables {"1": ..., "2": ...}. Free-form text
is only allowed within 24 hours of the contact's last inbound message; outside it we refuse
locally (Twilio would accept and then fail it with 63016).

Templates (capabilities.template_approval) go through the Content API: POST
content.twilio.com/v1/Content creates the content (twilio/text, twilio/call-to-action,
twilio/quick-reply, or twilio/media / twilio/card for a media header), POST .../Content/{sid}/ApprovalRequests/whatsapp submits it to WhatsApp, and
GET .../Content/{sid}/ApprovalRequests reads the review. The create call goes as raw JSON through
the SDK's client.request: the SDK's typed Content models serialize type keys the API does not
accept (twilio/twilio-python#881).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from channels.base import (
    Capabilities,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
    TemplateReview,
    TemplateSpec,
)
from channels.providers.meta_whatsapp import MetaWhatsApp
from channels.providers.twilio_base import ACCOUNT_FIELDS, TwilioAdapter, TwilioSettings


def wa_address(number: str) -> str:
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioWhatsApp(TwilioAdapter):
    LABEL = "Twilio WhatsApp"

    capabilities = Capabilities(
        channel="whatsapp",
        max_text_length=1600,
        media_types=frozenset({"image/jpeg", "image/png", "video/mp4", "audio/mpeg", "application/pdf"}),
        read_receipts=True,
        templates_required=True,
        template_approval=True,
        max_batch=100,
        default_rate_per_second=80.0,
        callbacks=True,
    )
    fields: ClassVar[tuple[ConfigField, ...]] = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "WhatsApp sender number", required=False,
                    help="Your WhatsApp-enabled Twilio number in E.164, e.g. +14155238886."),
        ConfigField("messaging_service_sid", "Messaging Service SID", required=False,
                    help="Starts with MG; used instead of the sender number when set."),
    )

    def check_settings(self, s: TwilioSettings) -> None:
        if not s.from_number and not s.messaging_service_sid:
            raise ConfigurationError(
                f"{self.LABEL} is not configured: set a WhatsApp sender number or a Messaging Service SID "
                "on the channel's settings page."
            )

    def build_params(self, s: TwilioSettings, message: OutboundMessage, *, now: datetime | None = None
                     ) -> dict[str, Any]:
        params: dict[str, Any] = {"to": wa_address(message.to)}
        if s.messaging_service_sid:
            params["messaging_service_sid"] = s.messaging_service_sid
        else:
            params["from_"] = wa_address(s.from_number)
        callback = self.status_callback(message)
        if callback:
            params["status_callback"] = callback

        template = message.template
        if template is not None:
            if not template.provider_id:
                raise ProviderError(
                    f"The WhatsApp template {template.name!r} has no Twilio Content SID; add it to the template.",
                    code="template_not_configured", permanent=True,
                )
            params["content_sid"] = template.provider_id
            if template.variables:
                params["content_variables"] = json.dumps(
                    {str(i): str(v) for i, v in enumerate(template.variables, start=1)})
            return params

        if not MetaWhatsApp.in_session_window(message, now or datetime.now(UTC)):
            raise ProviderError(
                "WhatsApp allows free-form messages only within 24 hours of the contact's last "
                "message to you; use an approved template instead.",
                code="outside_session_window",
                permanent=True,
            )
        if not message.text.strip() and not message.media:
            raise ProviderError("The WhatsApp message has no text.", code="empty_message", permanent=True)
        params["body"] = message.text
        if message.media:
            params["media_url"] = [m.url for m in message.media[:1]]
        return params

    def create(self, client, params: dict[str, Any]):
        return client.messages.create(**params)

    async def create_async(self, client, params: dict[str, Any]):
        return await client.messages.create_async(**params)

    # --- templates (Content API) -------------------------------------------------------------

    CONTENT_API = "https://content.twilio.com/v1"
    # Twilio's approval states -> ours; received / pending / unsubmitted are still in review.
    REVIEW_STATES: ClassVar[dict[str, str]] = {
        "approved": TemplateReview.APPROVED, "rejected": TemplateReview.REJECTED,
        "paused": TemplateReview.REJECTED, "disabled": TemplateReview.REJECTED,
    }

    @staticmethod
    def content_types(spec: TemplateSpec) -> dict[str, Any]:
        """The Content API `types` for a WhatsApp template: text, plus links or quick replies; with a
        media header, twilio/media (or twilio/card when it has buttons too), the file by its public URL."""
        body = f"{spec.body}\n\n{spec.footer}" if spec.footer else spec.body
        links = [b for b in spec.buttons if b.get("type") == "url"]
        replies = [b for b in spec.buttons if b.get("type") != "url"]
        types: dict[str, Any] = {"twilio/text": {"body": body}}
        if spec.header_media is not None:
            media = [spec.header_media.url]
            if not spec.buttons:
                types["twilio/media"] = {"body": body, "media": media}
                return types
            actions = [{"type": "URL", "title": b.get("text", ""), "url": b.get("url", "")} for b in links] + [
                {"type": "QUICK_REPLY", "title": b.get("text", ""), "id": f"reply_{n}"}
                for n, b in enumerate(replies, start=1)]
            types["twilio/card"] = {"title": spec.body, **({"subtitle": spec.footer} if spec.footer else {}),
                                    "media": media, "actions": actions}
            return types
        if links:
            types["twilio/call-to-action"] = {"body": body, "actions": [
                {"type": "URL", "title": b.get("text", ""), "url": b.get("url", "")} for b in links]}
        elif replies:
            types["twilio/quick-reply"] = {"body": body, "actions": [
                {"title": b.get("text", ""), "id": f"reply_{n}"} for n, b in enumerate(replies, start=1)]}
        return types

    def _content_request(self, client, method: str, path: str, data: dict | None = None) -> dict[str, Any]:
        def call():
            response = client.request(method, f"{self.CONTENT_API}{path}", data=data,
                                      headers={"Content-Type": "application/json"} if data is not None else None)
            try:
                payload = json.loads(response.text or "{}")
            except ValueError:
                payload = {}
            if response.status_code >= 400:
                raise self.classify(response.status_code, payload.get("code"), payload.get("message", ""),
                                    getattr(response, "headers", None) or {})
            return payload

        return self.call(client, call)

    def submit_template(self, spec: TemplateSpec) -> TemplateReview:
        s = self._require()
        client = self.client(s)
        sid = spec.provider_id
        if not sid:
            count = len({int(n) for n in re.findall(r"\{\{\s*(\d+)\s*\}\}", spec.body)})
            created = self._content_request(client, "POST", "/Content", {
                "friendly_name": spec.name, "language": spec.language,
                "variables": {str(n): spec.sample(n) for n in range(1, count + 1)},
                "types": self.content_types(spec),
            })
            sid = str(created.get("sid") or "")
            if not sid:
                raise ProviderError("Twilio created no content for the template.", code="template_not_created")
        approval = self._content_request(client, "POST", f"/Content/{sid}/ApprovalRequests/whatsapp",
                                         {"name": spec.name, "category": spec.category.upper()})
        state = self.REVIEW_STATES.get(str(approval.get("status", "")).lower(), TemplateReview.SUBMITTED)
        return TemplateReview(status=state, reason=str(approval.get("rejection_reason") or ""), provider_id=sid)

    def template_review(self, spec: TemplateSpec) -> TemplateReview:
        if not spec.provider_id:
            raise ProviderError(f"The template {spec.name!r} has no Twilio Content SID yet: submit it first.",
                                code="template_not_configured", permanent=True)
        s = self._require()
        client = self.client(s)
        fetched = self.call(client, lambda: client.content.v1.contents(spec.provider_id).approval_fetch().fetch())
        review = fetched.whatsapp or {}
        state = self.REVIEW_STATES.get(str(review.get("status", "")).lower(), TemplateReview.SUBMITTED)
        reason = str(review.get("rejection_reason") or "") if state == TemplateReview.REJECTED else ""
        return TemplateReview(status=state, reason=reason, provider_id=spec.provider_id)
