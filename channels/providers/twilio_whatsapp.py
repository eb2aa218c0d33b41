"""WhatsApp through Twilio's Messages API ("whatsapp:" addresses), with the official SDK.

Business-initiated messages use an approved Content template: message.template.provider_id is
its Content SID (HX...), variables go as ContentVariables {"1": ..., "2": ...}. Free-form text
is only allowed within 24 hours of the contact's last inbound message; outside it we refuse
locally (Twilio would accept and then fail it with 63016).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from channels.base import (
    Capabilities,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
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
