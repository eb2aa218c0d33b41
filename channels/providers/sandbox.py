"""Sandbox: a provider for any channel that 'sends' into the tenant's Outbox page.

The demo tenants send real campaigns end to end with no credentials: every message goes through
the delivery engine, the rate limiter and this adapter, and lands as an OutboxMessage that people
can read in the app. HTML is sanitized on write (nh3), so a hostile template cannot script the
outbox page.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import nh3

from channels.base import (
    Capabilities,
    ChannelAdapter,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
    SendResult,
)
from tenants.scoping import tenant_scope


class Sandbox(ChannelAdapter):
    LABEL = "Sandbox"

    capabilities = Capabilities(
        channel="any",
        max_text_length=None,
        media_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "application/pdf"}),
        read_receipts=False,
        max_batch=500,
        default_rate_per_second=50.0,
        callbacks=False,
    )
    fields = (
        ConfigField("sender", "Sender shown in the outbox", required=False,
                    help="Any text, e.g. offers@acme.example or +15005550006. Nothing is really sent."),
    )

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        from channels.models import OutboxMessage

        if self.config.tenant_id is None:
            raise ConfigurationError("Sandbox: the config has no tenant to write the outbox for.")
        rows = []
        results = []
        for message in messages:
            provider_id = f"sbx_{secrets.token_hex(12)}"
            rows.append(OutboxMessage(
                tenant_id=self.config.tenant_id,
                config_id=self.config.config_id or None,
                channel=self.config.channel or "email",
                to=message.to[:320],
                subject=(message.subject or message.title)[:300],
                text=message.text,
                html=nh3.clean(message.html) if message.html else "",
                media_urls=[m.url for m in message.media],
                message_id=str(message.id)[:64],
                provider_message_id=provider_id,
            ))
            results.append(SendResult(message_id=message.id, provider_message_id=provider_id, cost=self.cost(message)))
        with tenant_scope(self.config.tenant_id):
            OutboxMessage.objects.bulk_create(rows)
        return results

    # Telegram bots' group calls (channels.providers.telegram has the real ones). The sandbox has no
    # Telegram behind it: a group's count is what we already hold, and leaving always works.
    def member_count(self, chat_id: int | str) -> int:
        from audiences.models import TelegramChat

        with tenant_scope(self.config.tenant_id):
            chat = TelegramChat.objects.filter(tenant_id=self.config.tenant_id, chat_id=int(chat_id)).first()
        if chat is None:
            raise ProviderError("Bad Request: chat not found", code="400", permanent=True)
        return chat.member_count or 0

    def leave_chat(self, chat_id: int | str) -> None:
        return None

    # Removing someone from a group: the sandbox cannot know who is in a group, so everyone is a
    # member and the removal always works (the demo's subscribers page shows the whole flow).
    def member_status(self, chat_id: int | str, user_id: int | str) -> str:
        return "member"

    def ban_member(self, chat_id: int | str, user_id: int | str) -> None:
        return None

    def unban_member(self, chat_id: int | str, user_id: int | str) -> None:
        return None

    def test_connection(self) -> str:
        return "Sandbox ready: messages appear on the Outbox page, nothing leaves the app."
