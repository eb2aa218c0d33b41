"""Reads for Telegram audiences: the groups page, the subscribers page and campaign reach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from audiences.models import Contact, TelegramChat, TelegramGroupRemoval, TelegramSubscriber
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


def telegram_group_removals_recent(*, tenant_id: int, limit: int = 10) -> list[TelegramGroupRemoval]:
    """The latest "Remove from group" outcomes, for the subscribers page."""
    return list(TelegramGroupRemoval.objects.filter(tenant_id=tenant_id)
                .select_related("chat", "subscriber__contact", "removed_by").order_by("-created_at")[:limit])


# Who a Telegram campaign direct-messages (TelegramTargets.subscribers).
SUBSCRIBERS_ALL, SUBSCRIBERS_AUDIENCE, SUBSCRIBERS_NONE = "all", "audience", "none"
SUBSCRIBER_MODES = {
    SUBSCRIBERS_ALL: "All subscribers of the bot",
    SUBSCRIBERS_AUDIENCE: "Subscribers in the campaign's audience",
    SUBSCRIBERS_NONE: "No direct messages",
}


@dataclass(frozen=True)
class TelegramTargets:
    """Where a Telegram campaign goes: the Telegram content's data["targets"], typed.

    subscribers: direct messages to every subscriber of the bot ("all"), to the subscribers among
    the campaign's contact audience ("audience"), or to nobody ("none"); chat_ids: the ticked
    groups and channels, one post each. Campaigns saved before targets existed, or with the first
    version's boolean, read as "audience" (True) or "none" (False)."""

    subscribers: str = SUBSCRIBERS_AUDIENCE
    chat_ids: tuple[int, ...] = ()

    @classmethod
    def from_data(cls, targets: dict[str, Any] | None) -> TelegramTargets:
        targets = targets if isinstance(targets, dict) else {}
        raw = targets.get("subscribers", True)
        if raw is True or raw == "on":
            mode = SUBSCRIBERS_AUDIENCE
        elif raw is False or raw in ("", None):
            mode = SUBSCRIBERS_NONE
        else:
            mode = raw if raw in SUBSCRIBER_MODES else SUBSCRIBERS_AUDIENCE
        return cls(subscribers=mode, chat_ids=tuple(dict.fromkeys(_chat_ids(targets.get("chat_ids") or ()))))

    def to_data(self) -> dict[str, Any]:
        return {"subscribers": self.subscribers, "chat_ids": list(self.chat_ids)}

    @property
    def needs_audience(self) -> bool:
        """Only "subscribers in the audience" reads the campaign's segments, lists and tags."""
        return self.subscribers == SUBSCRIBERS_AUDIENCE

    @property
    def empty(self) -> bool:
        return self.subscribers == SUBSCRIBERS_NONE and not self.chat_ids


def telegram_reachable_contacts(*, tenant_id: int, contacts: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """Contacts a Telegram broadcast reaches: a chat id, not opted out (the fan-out's own rule)."""
    base = contacts if contacts is not None else Contact.objects.filter(tenant_id=tenant_id)
    return base.filter(reachable_q("telegram"))


def telegram_subscriber_contacts(*, tenant_id: int) -> QuerySet[Contact]:
    """Every contact with a Telegram chat id: what "all subscribers" fans out over (those opted out
    are then skipped with their reason, like any audience). Blocking clears the chat id, so blocked
    subscribers are not in it."""
    return Contact.objects.filter(tenant_id=tenant_id).exclude(telegram_chat_id="")


def telegram_chats_targeted(*, tenant_id: int, chat_ids: Iterable[int | str]) -> QuerySet[TelegramChat]:
    """The ticked chats the bot can still post to. A group upgraded to a supergroup since it was
    ticked is found by its old id too (TelegramChat.migrated_from_chat_id)."""
    ids = _chat_ids(chat_ids)
    return telegram_chats(tenant_id=tenant_id).filter(Q(chat_id__in=ids) | Q(migrated_from_chat_id__in=ids))


def telegram_reach(*, tenant_id: int, subscribers: bool | str, chat_ids: Iterable[int | str],
                   contacts: QuerySet[Contact] | None = None) -> dict[str, int]:
    """Total reach of a Telegram campaign's targets, for the wizard.

    subscribers: "all" (every reachable subscriber), "audience" (the reachable contacts of
    `contacts`, the campaign's audience; every subscriber when it is None), "none" (True/False
    mean "audience"/"none"); chat_ids: ticked groups and channels the bot is still in, counted by
    their last known member count (the bot itself is not an audience).
    Someone in two ticked groups, or a subscriber who is also a member, counts twice: Telegram
    does not tell a bot who is in a group, so members cannot be de-duplicated."""
    mode = TelegramTargets.from_data({"subscribers": subscribers}).subscribers
    if mode == SUBSCRIBERS_NONE:
        direct = 0
    else:
        scope = contacts if mode == SUBSCRIBERS_AUDIENCE else None
        if scope is not None and scope.query.is_empty():
            direct = 0  # no audience chosen yet; .none() has no SQL to count
        else:
            direct = telegram_reachable_contacts(tenant_id=tenant_id, contacts=scope).count()
    chats = telegram_chats_targeted(tenant_id=tenant_id, chat_ids=chat_ids)
    totals = chats.aggregate(members=Sum("member_count"), chats=Count("pk"),
                             counted=Count("pk", filter=Q(member_count__gt=0)))
    members = max((totals["members"] or 0) - totals["counted"], 0)
    return {"subscribers": direct, "members": members, "chats": totals["chats"], "total": direct + members}


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


def telegram_targets_context(*, tenant_id: int, targets: dict | TelegramTargets | None,
                             contacts: QuerySet[Contact] | None = None, in_form: bool = False) -> dict:
    """What audiences/telegram_targets.html needs: the bot's active groups and channels (ticked or
    not), the subscriber choice with its counts, and the reach.

    `targets` is the Telegram content's data["targets"] (or parsed); `contacts` the campaign's
    audience when there is a campaign; `in_form`: the fieldset sits inside a form whose own htmx
    request re-renders the reach (the campaign wizard), so it makes none of its own."""
    parsed = targets if isinstance(targets, TelegramTargets) else TelegramTargets.from_data(targets)
    chats = list(telegram_chats(tenant_id=tenant_id).order_by("title", "chat_id"))
    ticked = set(parsed.chat_ids)
    rows = [{"chat": chat, "ticked": chat.chat_id in ticked or chat.migrated_from_chat_id in ticked}
            for chat in chats]
    everyone = telegram_reachable_contacts(tenant_id=tenant_id).count()
    if contacts is None:
        in_audience = everyone
    elif contacts.query.is_empty():
        in_audience = 0
    else:
        in_audience = telegram_reachable_contacts(tenant_id=tenant_id, contacts=contacts).count()
    counts = {SUBSCRIBERS_ALL: everyone, SUBSCRIBERS_AUDIENCE: in_audience, SUBSCRIBERS_NONE: None}
    return {
        "tg_groups": [r for r in rows if r["chat"].type != TelegramChat.Type.CHANNEL],
        "tg_channels": [r for r in rows if r["chat"].type == TelegramChat.Type.CHANNEL],
        "tg_chats": rows,
        "tg_subscribers": parsed.subscribers,
        "tg_subscriber_modes": [{"value": value, "label": label, "count": counts[value],
                                 "checked": value == parsed.subscribers} for value, label in SUBSCRIBER_MODES.items()],
        "tg_has_audience": contacts is not None,
        "tg_in_form": in_form,
        "tg_reach": telegram_reach(tenant_id=tenant_id, subscribers=parsed.subscribers, chat_ids=parsed.chat_ids,
                                   contacts=contacts),
    }
