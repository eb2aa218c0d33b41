"""Writes for Telegram audiences: the bot's groups and channels, and its subscribers.

Both are learnt from the updates Telegram posts to our webhook (audiences.receivers_telegram):
- my_chat_member in a group, supergroup or channel: the bot was added, promoted or removed;
- /start in a private chat: the person becomes a subscriber (a contact with their chat id).
/stop and blocking the bot are STOP keywords that audiences.receivers already turns into consent
history; nothing here repeats that.

Consent on /start uses ConsentSource.KEYWORD: the person typed the START command to the bot
themselves, which is exactly what that source records for SMS and WhatsApp ("Keyword (STOP /
START)"); "form" or "api" would misstate where the opt-in came from. Because the keyword receiver
runs after ours and finds the contact already opted in, the history holds one event, not two.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audiences import services
from audiences.models import (
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    TelegramChat,
    TelegramDirectMessage,
    TelegramGroupRemoval,
    TelegramSubscriber,
)
from channels.base import OutboundMessage, ProviderError
from channels.models import ChannelConfig
from channels.selectors import channel_adapter, channel_config_for

logger = logging.getLogger(__name__)

# Telegram's ChatMember statuses for the bot -> ours. "restricted" is still in the chat.
BOT_STATUSES = {"member": TelegramChat.BotStatus.MEMBER, "restricted": TelegramChat.BotStatus.MEMBER,
                "administrator": TelegramChat.BotStatus.ADMINISTRATOR, "creator": TelegramChat.BotStatus.ADMINISTRATOR,
                "left": TelegramChat.BotStatus.LEFT, "kicked": TelegramChat.BotStatus.KICKED}
DM_LIMIT = 4096


class TelegramUnavailable(ValueError):
    """No usable bot, or Telegram refused the call; the message says which, for the marketer."""


# --- groups and channels ---------------------------------------------------------------------------

def telegram_chat_membership(*, config: ChannelConfig, member: dict[str, Any]) -> TelegramChat | None:
    """Apply one my_chat_member update about the bot in a group or channel; None if it is not one."""
    chat = member.get("chat") or {}
    status = BOT_STATUSES.get(str((member.get("new_chat_member") or {}).get("status") or ""))
    if chat.get("type") not in TelegramChat.Type.values or status is None or chat.get("id") is None:
        return None
    values = {"type": chat["type"], "bot_status": status, "tenant_id": config.tenant_id}
    # A title or @name the update leaves out is not a rename: keep what we had.
    values.update({key: str(chat[key])[:limit] for key, limit in (("title", 255), ("username", 64)) if chat.get(key)})
    tg_chat, _ = TelegramChat.objects.update_or_create(channel_config=config, chat_id=int(chat["id"]),
                                                       defaults=values)
    return tg_chat


def telegram_chat_seen(*, config: ChannelConfig, chat_id: int, at: dt.datetime | None) -> int:
    """A message in a group or channel: move its last post forward (never back, updates can arrive late)."""
    at = at or timezone.now()
    return TelegramChat.objects.filter(Q(last_post_at__lt=at) | Q(last_post_at__isnull=True),
                                       channel_config=config, chat_id=chat_id).update(last_post_at=at)


def telegram_chat_migrate(*, config: ChannelConfig, old_chat_id: int, new_chat_id: int) -> TelegramChat | None:
    """A basic group upgraded to a supergroup (a service message with migrate_to_chat_id in the old
    chat, and one with migrate_from_chat_id in the new): the stored group takes the new chat id and
    keeps its row, so its history, its place on the groups page and campaigns that ticked it stay.

    Idempotent (Telegram sends two messages, and may repeat them). If the supergroup was already
    learnt as a chat of its own (its my_chat_member came first), the two become one: the older row
    stays, with the newer facts. None when the bot never knew either chat."""
    if old_chat_id == new_chat_id:
        return None
    with transaction.atomic():
        rows = {chat.chat_id: chat for chat in TelegramChat.objects.select_for_update().filter(
            channel_config=config, chat_id__in=[old_chat_id, new_chat_id]).order_by("created_at")}
        old, new = rows.get(old_chat_id), rows.get(new_chat_id)
        if old is None:
            if new is not None and new.migrated_from_chat_id is None:
                TelegramChat.objects.filter(pk=new.pk).update(migrated_from_chat_id=old_chat_id)
                new.migrated_from_chat_id = old_chat_id
            return new
        if new is not None:
            old.bot_status = new.bot_status
            old.title, old.username = new.title or old.title, new.username or old.username
            if new.member_count is not None:
                old.member_count, old.member_count_at = new.member_count, new.member_count_at
            old.last_post_at = max(filter(None, (old.last_post_at, new.last_post_at)), default=None)
            new.delete()  # before the update below: (config, chat id) is unique
        old.chat_id, old.migrated_from_chat_id, old.type = new_chat_id, old_chat_id, TelegramChat.Type.SUPERGROUP
        old.save()
    logger.info("Telegram group %s became supergroup %s (tenant %s)", old_chat_id, new_chat_id, config.tenant_id)
    return old


def telegram_chats_refresh(*, chats) -> tuple[int, list[str]]:
    """Re-count the members of each chat the bot is still in (getChatMemberCount).

    Returns (how many were refreshed, one readable line per failure). A chat Telegram no longer
    knows, or that removed the bot without telling us, is marked left rather than retried forever."""
    refreshed, problems = 0, []
    adapters: dict[Any, Any] = {}
    for chat in chats.filter(bot_status__in=TelegramChat.ACTIVE).select_related("channel_config"):
        config = chat.channel_config
        try:
            adapter = adapters.get(config.pk) or adapters.setdefault(config.pk, channel_adapter(config))
            count = _member_count(adapter, config, chat)
        except ProviderError as exc:
            problems.append(f"{chat}: {exc.message}")
            if exc.permanent and exc.code in ("400", "403"):
                TelegramChat.objects.filter(pk=chat.pk).update(bot_status=TelegramChat.BotStatus.LEFT)
            continue
        TelegramChat.objects.filter(pk=chat.pk).update(member_count=count, member_count_at=timezone.now())
        refreshed += 1
    return refreshed, problems


def _member_count(adapter, config: ChannelConfig, chat: TelegramChat) -> int:
    try:
        return adapter.member_count(chat.chat_id)
    except ProviderError as exc:
        new_id = getattr(exc, "migrate_to_chat_id", None)  # set by channels.providers.telegram
        if new_id is None:
            raise
    # Upgraded to a supergroup and the service message was missed: follow it, then count there.
    telegram_chat_migrate(config=config, old_chat_id=chat.chat_id, new_chat_id=int(new_id))
    chat.chat_id = int(new_id)
    return adapter.member_count(chat.chat_id)


def telegram_chat_leave(*, chat: TelegramChat) -> None:
    """Take the bot out of a group or channel; the chat stays listed as left."""
    try:
        channel_adapter(chat.channel_config).leave_chat(chat.chat_id)
    except ProviderError as exc:
        # Already gone (kicked, or the group deleted): the outcome the marketer asked for.
        if not (exc.permanent and exc.code in ("400", "403")):
            raise TelegramUnavailable(f"Telegram did not let the bot leave “{chat}”: {exc.message}") from exc
    TelegramChat.objects.filter(pk=chat.pk).update(bot_status=TelegramChat.BotStatus.LEFT, updated_at=timezone.now())
    chat.bot_status = TelegramChat.BotStatus.LEFT


# --- subscribers -----------------------------------------------------------------------------------

def telegram_subscriber_start(*, tenant_id: int, message: dict[str, Any], at: dt.datetime | None,
                              evidence: dict[str, Any]) -> TelegramSubscriber | None:
    """/start in a private chat: create or update the contact with that chat id and opt it in.

    None when the chat was blocked by the tenant: a blocked person cannot opt back in by typing."""
    chat_id = str((message.get("chat") or {}).get("id") or "")
    sender = message.get("from") or {}
    if not chat_id:
        return None
    words = str(message.get("text") or "").split(maxsplit=1)
    payload = words[1][:64] if len(words) > 1 else ""
    at = at or timezone.now()
    with transaction.atomic():
        subscriber = (TelegramSubscriber.objects.select_for_update().select_related("contact")
                      .filter(tenant_id=tenant_id, chat_id=chat_id).first())
        if subscriber is not None and subscriber.blocked_at is not None:
            logger.info("Telegram /start from blocked chat %s ignored (tenant %s)", chat_id, tenant_id)
            return None
        contact = subscriber.contact if subscriber else (
            Contact.objects.filter(tenant_id=tenant_id, telegram_chat_id=chat_id).order_by("created_at").first())
        fields = {"telegram_chat_id": chat_id, "telegram_username": str(sender.get("username") or "")[:64]}
        # Names typed into the CRM win over Telegram's display names; blanks are filled in.
        for ours, theirs in (("first_name", "first_name"), ("last_name", "last_name")):
            if not (contact and getattr(contact, ours)) and sender.get(theirs):
                fields[ours] = str(sender[theirs])[:80]
        contact = services.contact_save(tenant_id=tenant_id, contact=contact, fields=fields)
        if subscriber is None:
            subscriber = TelegramSubscriber.objects.create(tenant_id=tenant_id, contact=contact, chat_id=chat_id,
                                                           joined_at=at, start_payload=payload)
        services.consent_set(contact=contact, channel="telegram", state=ConsentState.OPTED_IN,
                             source=ConsentSource.KEYWORD, evidence={**evidence, "keyword": "START"})
    return subscriber


def telegram_subscriber_unsubscribe(*, subscriber: TelegramSubscriber, actor) -> bool:
    """Unsubscribe someone from the bot's messages (they can /start again). It does not take them
    out of any group: that is telegram_group_remove."""
    return services.consent_set(contact=subscriber.contact, channel="telegram", state=ConsentState.OPTED_OUT,
                                source=ConsentSource.ADMIN, evidence={"action": "telegram_remove"}, actor=actor)


def telegram_subscriber_block(*, subscriber: TelegramSubscriber, actor) -> None:
    """Opt out, flag, and take the chat id off the contact.

    Without the chat id on the contact, campaign fan-out has no Telegram address for them and a
    later START keyword finds no contact to opt back in; the subscriber row keeps the chat id so
    /start is recognised and refused (telegram_subscriber_start)."""
    with transaction.atomic():
        services.consent_set(contact=subscriber.contact, channel="telegram", state=ConsentState.OPTED_OUT,
                             source=ConsentSource.ADMIN, evidence={"action": "telegram_block"}, actor=actor)
        TelegramSubscriber.objects.filter(pk=subscriber.pk).update(blocked_at=timezone.now())
        Contact.objects.filter(pk=subscriber.contact_id, telegram_chat_id=subscriber.chat_id).update(
            telegram_chat_id="", updated_at=timezone.now())


def telegram_subscriber_unblock(*, subscriber: TelegramSubscriber, actor) -> bool:
    """Undo a block: /start works again, the chat id goes back on the contact, and Telegram consent
    returns to what it was before the block, with its own consent event.

    Only the block's own opt-out is undone: someone who had opted out before we blocked them (or
    whose consent changed since) stays as they are, and someone the block opted out is opted back
    in, because their /start is still the evidence. Returns False when they were not blocked."""
    with transaction.atomic():
        locked = TelegramSubscriber.objects.select_for_update().select_related("contact").filter(
            pk=subscriber.pk, blocked_at__isnull=False).first()
        if locked is None:
            return False
        TelegramSubscriber.objects.filter(pk=locked.pk).update(blocked_at=None)
        contact = locked.contact
        # Give the chat id back unless the contact has another by now, or another contact holds it.
        taken = Contact.objects.filter(tenant_id=contact.tenant_id, telegram_chat_id=locked.chat_id).exclude(
            pk=contact.pk).exists()
        if not taken:
            Contact.objects.filter(pk=contact.pk, telegram_chat_id="").update(
                telegram_chat_id=locked.chat_id, updated_at=timezone.now())
        latest = ConsentEvent.objects.filter(contact=contact, channel="telegram").order_by("-created_at", "-id").first()
        blocked_by_us = latest is not None and (latest.evidence or {}).get("action") == "telegram_block"
        if blocked_by_us and latest.previous_state != ConsentState.OPTED_OUT:
            services.consent_set(contact=contact, channel="telegram", state=latest.previous_state,
                                 source=ConsentSource.ADMIN,
                                 evidence={"action": "telegram_unblock", "undoes_event": latest.pk}, actor=actor)
    subscriber.blocked_at = None
    return True


# Groups a person can be removed from: in a channel the bot cannot tell members from readers.
REMOVABLE_TYPES = (TelegramChat.Type.GROUP, TelegramChat.Type.SUPERGROUP)
GROUP_REMOVE_LIMIT = 100  # Bot API calls run while the marketer waits: up to three per person
# Telegram's 400 descriptions (lower case) for the cases a marketer can act on.
NO_RIGHTS = ("not enough rights", "chat_admin_required", "need administrator rights")
NOT_A_MEMBER = ("user not found", "participant_id_invalid", "user_not_participant", "member not found")
IS_ADMIN = ("can't remove chat owner", "user is an administrator", "user_admin_invalid")


def telegram_removable_chats(*, tenant_id: int):
    """The bot's groups someone can be removed from (active groups and supergroups)."""
    return TelegramChat.objects.filter(tenant_id=tenant_id, bot_status__in=TelegramChat.ACTIVE,
                                       type__in=REMOVABLE_TYPES).order_by("title", "chat_id")


def telegram_group_remove(*, chat: TelegramChat, subscribers, actor) -> list[TelegramGroupRemoval]:
    """Have the bot remove each subscriber from `chat`, one TelegramGroupRemoval each.

    Telegram has no "kick": banChatMember removes the person and bars them, and unbanChatMember
    with only_if_banned lifts the bar at once, so they can come back by invite link later. A basic
    group has no ban list (unbanChatMember is for supergroups), so there the ban alone is a kick.
    getChatMember first tells "not a member" apart, since a ban succeeds on non-members too.
    When Telegram answers that the bot lacks the rights, everybody left gets that answer without
    more calls: nothing would go differently for them."""
    if chat.type not in REMOVABLE_TYPES or not chat.is_active:
        raise TelegramUnavailable(f"The bot cannot remove people from “{chat}”: it is not one of its active groups.")
    subscribers = list(subscribers)
    if len(subscribers) > GROUP_REMOVE_LIMIT:
        raise TelegramUnavailable(f"Remove at most {GROUP_REMOVE_LIMIT} people from a group at once "
                                  f"({len(subscribers)} ticked).")
    try:
        adapter = channel_adapter(chat.channel_config)
    except (LookupError, ImportError, ProviderError) as exc:
        raise TelegramUnavailable(f"The Telegram bot is not usable: {exc}") from exc
    if not hasattr(adapter, "ban_member"):
        raise TelegramUnavailable(f"“{chat.channel_config}” cannot manage group members: connect a Telegram bot.")
    records, no_rights = [], ""
    for subscriber in subscribers:
        record = TelegramGroupRemoval.objects.create(tenant_id=chat.tenant_id, chat=chat, subscriber=subscriber,
                                                     user_id=subscriber.chat_id, removed_by=actor)
        if no_rights:
            status, message = TelegramGroupRemoval.Status.FAILED, no_rights
        else:
            status, message = _remove_one(adapter, chat, subscriber.chat_id)
            if status == TelegramGroupRemoval.Status.FAILED and message.startswith("The bot is not an admin"):
                no_rights = message
        TelegramGroupRemoval.objects.filter(pk=record.pk, status=TelegramGroupRemoval.Status.REMOVING).update(
            status=status, message=message[:500])
        record.status, record.message = status, message[:500]
        records.append(record)
    logger.info("Telegram: %d people removed from chat %s (tenant %s)",
                sum(r.status == TelegramGroupRemoval.Status.REMOVED for r in records), chat.chat_id, chat.tenant_id)
    return records


def _remove_one(adapter, chat: TelegramChat, user_id: str) -> tuple[str, str]:
    Status = TelegramGroupRemoval.Status
    try:
        member = adapter.member_status(chat.chat_id, user_id)
        if member in ("left", "kicked"):
            return Status.NOT_MEMBER, f"Not a member of “{chat}”."
        if member in ("creator", "administrator"):
            return Status.FAILED, f"An admin of “{chat}”: Telegram does not let a bot remove admins."
        adapter.ban_member(chat.chat_id, user_id)
    except ProviderError as exc:
        return Status.FAILED if not _not_a_member(exc) else Status.NOT_MEMBER, _removal_problem(exc, chat)
    if chat.type == TelegramChat.Type.GROUP:
        return Status.REMOVED, ""
    try:
        adapter.unban_member(chat.chat_id, user_id)
    except ProviderError as exc:
        return Status.REMOVED, (f"Removed, but Telegram kept them banned ({exc.message}): they cannot rejoin "
                                f"“{chat}” until an admin unbans them.")
    return Status.REMOVED, ""


def _not_a_member(exc: ProviderError) -> bool:
    return exc.code == "400" and any(p in exc.message.lower() for p in NOT_A_MEMBER)


def _removal_problem(exc: ProviderError, chat: TelegramChat) -> str:
    lowered = exc.message.lower()
    if _not_a_member(exc):
        return f"Not a member of “{chat}”."
    if any(p in lowered for p in NO_RIGHTS):
        return (f"The bot is not an admin of “{chat}” (or may not ban users there): make it an admin with "
                f"“Ban users” in Telegram, then try again.")
    if any(p in lowered for p in IS_ADMIN):
        return f"An admin of “{chat}”: Telegram does not let a bot remove admins."
    if exc.code == "chat_migrated":
        return f"“{chat}” became a supergroup: refresh the groups page, then try again."
    return f"Telegram refused: {exc.message}"


def telegram_direct_message_send(*, tenant, subscriber: TelegramSubscriber, text: str, actor) -> TelegramDirectMessage:
    """Send one message through the tenant's Telegram bot, recorded first and then its outcome."""
    text = text.strip()
    if not text:
        raise ValueError("Write a message.")
    if len(text) > DM_LIMIT:
        raise ValueError(f"Telegram messages are limited to {DM_LIMIT} characters ({len(text)} written).")
    if subscriber.blocked_at is not None:
        raise ValueError("This subscriber is blocked.")
    if subscriber.contact.consent("telegram") == ConsentState.OPTED_OUT:
        raise ValueError("This subscriber has opted out of Telegram messages.")
    config = channel_config_for(tenant=tenant, channel="telegram")
    if config is None:
        raise TelegramUnavailable("No Telegram bot is set up (or the channel is switched off) for this workspace.")
    record = TelegramDirectMessage.objects.create(tenant_id=tenant.pk, contact=subscriber.contact,
                                                  chat_id=subscriber.chat_id, text=text, sent_by=actor)
    try:
        [result] = channel_adapter(config).send([OutboundMessage(id=str(record.pk), to=subscriber.chat_id, text=text)])
        error = result.error
    except ProviderError as exc:
        result, error = None, exc
    if error is None:
        TelegramDirectMessage.objects.filter(pk=record.pk, status=TelegramDirectMessage.Status.SENDING).update(
            status=TelegramDirectMessage.Status.SENT, provider_message_id=result.provider_message_id or "")
        record.status = TelegramDirectMessage.Status.SENT
    else:
        TelegramDirectMessage.objects.filter(pk=record.pk, status=TelegramDirectMessage.Status.SENDING).update(
            status=TelegramDirectMessage.Status.FAILED, error_message=error.message[:500])
        record.status, record.error_message = TelegramDirectMessage.Status.FAILED, error.message[:500]
    return record
