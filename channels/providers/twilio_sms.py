"""SMS (and MMS) through Twilio's Messages API, with the official SDK.

Sender: a Messaging Service SID (preferred: pools numbers, handles STOP itself) or a From number.
Cost is the configured unit cost times the number of SMS parts (see sms_segments).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from channels.base import (
    Capabilities,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
)
from channels.providers.sms_segments import segments
from channels.providers.twilio_base import ACCOUNT_FIELDS, TwilioAdapter, TwilioSettings


class TwilioSms(TwilioAdapter):
    LABEL = "Twilio SMS"
    MAX_BODY = 1600

    capabilities = Capabilities(
        channel="sms",
        max_text_length=MAX_BODY,
        media_types=frozenset({"image/jpeg", "image/png", "image/gif"}),  # MMS (US/CA numbers)
        read_receipts=False,
        max_batch=100,
        default_rate_per_second=10.0,
        callbacks=True,
    )
    fields: ClassVar[tuple[ConfigField, ...]] = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "From number", required=False,
                    help="E.164 Twilio number, e.g. +15005550006. Needed unless a Messaging Service is set."),
        ConfigField("messaging_service_sid", "Messaging Service SID", required=False,
                    help="Starts with MG; used instead of the From number when set."),
    )

    def check_settings(self, s: TwilioSettings) -> None:
        if not s.from_number and not s.messaging_service_sid:
            raise ConfigurationError(
                f"{self.LABEL} is not configured: set a From number or a Messaging Service SID "
                "on the channel's settings page."
            )

    def build_params(self, s: TwilioSettings, message: OutboundMessage) -> dict[str, Any]:
        if not message.text.strip() and not message.media:
            raise ProviderError("The SMS has no text.", code="empty_message", permanent=True)
        if len(message.text) > self.MAX_BODY:
            raise ProviderError(f"The SMS is longer than {self.MAX_BODY} characters.", code="21617", permanent=True)
        params: dict[str, Any] = {"to": message.to.strip(), "body": message.text}
        if s.messaging_service_sid:
            params["messaging_service_sid"] = s.messaging_service_sid
        else:
            params["from_"] = s.from_number
        if message.media:
            params["media_url"] = [m.url for m in message.media]
        callback = self.status_callback(message)
        if callback:
            params["status_callback"] = callback
        return params

    def create(self, client, params: dict[str, Any]):
        return client.messages.create(**params)

    async def create_async(self, client, params: dict[str, Any]):
        return await client.messages.create_async(**params)

    def cost(self, message: OutboundMessage) -> Decimal:
        return self.config.unit_cost * segments(message.text)[1]
