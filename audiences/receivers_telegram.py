"""Telegram updates, as verified by the webhook, turned into groups and subscribers.

The webhook sends status_events_received before keyword_received, in one transaction: a /start
creates the contact here first, so the keyword receiver then finds it already opted in.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from audiences import telegram
from audiences.models import TelegramChat
from channels.models import ChannelConfig
from channels.signals import recipient_moved, status_events_received
from tenants.scoping import tenant_scope


@receiver(status_events_received, dispatch_uid="audiences.telegram_updates")
def apply_telegram_updates(sender, *, tenant_id, config_id, events, **kwargs):
    with tenant_scope(tenant_id):
        config = ChannelConfig.objects.filter(tenant_id=tenant_id, pk=config_id, provider="telegram").first()
        if config is None:
            return None
        for event in events:
            raw = event.raw or {}
            chat = raw.get("chat") or {}
            if "new_chat_member" in raw:
                tg_chat = telegram.telegram_chat_membership(config=config, member=dict(raw))
                if tg_chat is not None and tg_chat.is_active:
                    # Count its members now (an outbound call: after the commit, in a worker).
                    transaction.on_commit(lambda t=tenant_id, pk=str(tg_chat.pk): _refresh(t, pk))
            elif chat.get("type") == "private" and event.keyword == "start":
                telegram.telegram_subscriber_start(
                    tenant_id=tenant_id, message=dict(raw), at=event.occurred_at,
                    evidence={"provider": config.provider, "config_id": str(config.pk), "text": event.text[:500],
                              "event_id": event.event_id,
                              "occurred_at": event.occurred_at.isoformat() if event.occurred_at else ""})
            elif chat.get("type") in ("group", "supergroup") and (raw.get("migrate_to_chat_id")
                                                                   or raw.get("migrate_from_chat_id")):
                # Upgraded to a supergroup: the old chat says where it went, the new one where it came from.
                old, new = ((chat.get("id"), raw["migrate_to_chat_id"]) if raw.get("migrate_to_chat_id")
                            else (raw["migrate_from_chat_id"], chat.get("id")))
                tg_chat = telegram.telegram_chat_migrate(config=config, old_chat_id=int(old), new_chat_id=int(new))
                if tg_chat is not None and tg_chat.is_active:
                    transaction.on_commit(lambda t=tenant_id, pk=str(tg_chat.pk): _refresh(t, pk))
            elif chat.get("type") in ("group", "supergroup", "channel") and chat.get("id") is not None:
                telegram.telegram_chat_seen(config=config, chat_id=int(chat["id"]), at=event.occurred_at)
    # Nothing to report as unmatched: the delivery engine's receiver speaks for deliveries.
    return None


@receiver(recipient_moved, dispatch_uid="audiences.telegram_chat_moved")
def follow_moved_chat(sender, *, tenant_id, channel, address, new_address, **kwargs):
    """A campaign post found the group upgraded to a supergroup (the delivery engine re-sends it to
    the new id): the stored group follows too, so the next campaign posts there directly."""
    if channel != "telegram":
        return
    try:
        old, new = int(address), int(new_address)
    except (TypeError, ValueError):
        return
    with tenant_scope(tenant_id):
        for chat in TelegramChat.objects.filter(tenant_id=tenant_id, chat_id=old).select_related("channel_config"):
            telegram.telegram_chat_migrate(config=chat.channel_config, old_chat_id=old, new_chat_id=new)


def _refresh(tenant_id: int, chat_pk: str) -> None:
    from audiences.tasks import telegram_chats_refresh_task

    telegram_chats_refresh_task.delay(tenant_id, [chat_pk])
