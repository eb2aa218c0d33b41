"""Reads for Telegram audiences: the groups page, the subscribers page and campaign reach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from django.db.models import Q, QuerySet, Sum

from audiences.models import Contact, TelegramChat, TelegramSubscriber
from audiences.selectors import Cursor, older_than_q, reachable_q
from tenants.scoping import tenant_scope


def telegram_chats(*, tenant_id: int, include_left: bool = False) -> QuerySet[TelegramChat]:
    chats = TelegramChat.objects.filter(tenant_id=tenant_id)
    return chats if include_left else chats.filter(bot_status__in=TelegramChat.ACTIVE)


def telegram_subscribers(*, tenant_id: int, search: str = "") -> QuerySet[TelegramSubscriber]:
    subscribers = TelegramSubscriber.objects.filter(tenant_id=tenant_id).select_related("contact")
    if search:
        subscribers = subscribers.filter(
            Q(contact__first_name__icontains=search) | Q(contact__last_name__icontains=search)
            | Q(contact__telegram_username__icontains=search.lstrip("@")) | Q(chat_id=search))
    return subscribers


def telegram_reachable_contacts(*, tenant_id: int, contacts: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """Contacts a Telegram broadcast reaches: a chat id, not opted out (the fan-out's own rule)."""
    base = contacts if contacts is not None else Contact.objects.filter(tenant_id=tenant_id)
    return base.filter(reachable_q("telegram"))


def telegram_reach(*, tenant_id: int, subscribers: bool, chat_ids: Iterable[int | str],
                   contacts: QuerySet[Contact] | None = None) -> dict[str, int]:
    """Total reach of a Telegram campaign's targets, for the wizard.

    subscribers: direct messages to the reachable contacts (the campaign's audience when
    `contacts` is given, else every subscriber); chat_ids: ticked groups and channels the bot is
    still in, counted by their last known member count (the bot itself is not an audience).
    Someone in two ticked groups, or a subscriber who is also a member, counts twice: Telegram
    does not tell a bot who is in a group, so members cannot be de-duplicated."""
    direct = telegram_reachable_contacts(tenant_id=tenant_id, contacts=contacts).count() if subscribers else 0
    ids = _chat_ids(chat_ids)
    chats = telegram_chats(tenant_id=tenant_id).filter(chat_id__in=ids)
    totals = chats.aggregate(members=Sum("member_count"))
    members = max((totals["members"] or 0) - chats.filter(member_count__gt=0).count(), 0)
    return {"subscribers": direct, "members": members, "chats": chats.count(), "total": direct + members}


def _chat_ids(values: Iterable[int | str]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


SUBSCRIBER_COLUMNS = ("first_name", "last_name", "username", "chat_id", "joined_at", "consent_telegram", "blocked",
                      "start_payload")
EXPORT_CHUNK = 2000


def telegram_subscriber_rows(subscribers: QuerySet[TelegramSubscriber], *, tenant_id: int) -> Iterator[list]:
    """Rows of SUBSCRIBER_COLUMNS in keyset chunks, each read in the tenant's scope (the CSV streams
    after the view returned, outside the request's scope)."""
    cursor: Cursor | None = None
    fields = ("pk", "created_at", "contact__first_name", "contact__last_name", "contact__telegram_username",
              "chat_id", "joined_at", "contact__consent_telegram", "blocked_at", "start_payload")
    while True:
        with tenant_scope(tenant_id):
            chunk = subscribers.order_by("-created_at", "-pk")
            if cursor is not None:
                chunk = chunk.filter(older_than_q(cursor))
            batch = list(chunk.values_list(*fields)[:EXPORT_CHUNK])
        for _pk, _created, first, last, username, chat_id, joined, consent, blocked_at, payload in batch:
            # The username without its "@": a leading @ would be read as a formula and neutralized.
            yield [first, last, username, chat_id, joined.astimezone(dt.UTC).isoformat(),
                   consent, "yes" if blocked_at else "", payload]
        if len(batch) < EXPORT_CHUNK:
            return
        cursor = Cursor(created_at=batch[-1][1], pk=batch[-1][0])


def telegram_targets_context(*, tenant_id: int, targets: dict, contacts: QuerySet[Contact] | None = None) -> dict:
    """What audiences/telegram_targets.html needs: the bot's active chats (ticked or not) and the reach.

    `targets` is the Telegram content's data["targets"]: {"subscribers": bool, "chat_ids": [...]}."""
    ticked = set(_chat_ids(targets.get("chat_ids") or ()))
    subscribers = bool(targets.get("subscribers", True))
    chats = list(telegram_chats(tenant_id=tenant_id).order_by("title", "chat_id"))
    return {
        "tg_chats": [{"chat": chat, "ticked": chat.chat_id in ticked} for chat in chats],
        "tg_subscribers": subscribers,
        "tg_reach": telegram_reach(tenant_id=tenant_id, subscribers=subscribers, chat_ids=ticked, contacts=contacts),
    }
