"""Telegram through the Bot API over httpx: {TELEGRAM_API_BASE}/bot<token>/<method>.

Recipients are chat ids (users, groups: negative ids) or "@channelusername". Telegram has no
delivery receipts; what comes back through the webhook is what users write to the bot, which we
turn into inbound events (a reply when it answers one of our messages; /stop and /start as
keywords). A message id is only unique within its chat, so provider ids are "<chat id>:<message id>".

Webhook requests carry X-Telegram-Bot-Api-Secret-Token, the secret_token we gave setWebhook.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from channels.base import (
    Capabilities,
    ChannelAdapter,
    ConfigField,
    ConfigurationError,
    OutboundMessage,
    ProviderError,
    SendResult,
    Stage,
    StatusEvent,
)
from channels.providers import http

logger = logging.getLogger(__name__)

PARSE_MODES = ("HTML", "MarkdownV2", "Markdown")
GROUP_TYPES = ("group", "supergroup", "channel")
COMMAND_KEYWORDS = {"/stop": "stop", "/unsubscribe": "stop", "/start": "start", "/help": "help"}


def command_keyword(text: str) -> str:
    """"/stop", "/stop@MyBot" and "/start promo42" (deep-link payload) are keywords."""
    words = text.strip().split()
    if not words:
        return ""
    command = words[0].split("@", 1)[0].lower()
    return COMMAND_KEYWORDS.get(command, "")


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str
    webhook_secret: str
    parse_mode: str


class Telegram(ChannelAdapter):
    LABEL = "Telegram"
    TEXT_LIMIT = 4096
    CAPTION_LIMIT = 1024
    # Telegram's published limits; the global one is the default rate, the engine can apply the
    # per-chat ones (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
    GLOBAL_RATE_PER_SECOND = 30.0
    PER_CHAT_RATE_PER_SECOND = 1.0
    PER_GROUP_PER_MINUTE = 20

    capabilities = Capabilities(
        channel="telegram",
        max_text_length=TEXT_LIMIT,
        media_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "video/mp4"}),
        read_receipts=False,
        templates_required=False,
        max_batch=100,
        default_rate_per_second=GLOBAL_RATE_PER_SECOND,
        callbacks=True,
    )
    fields = (
        ConfigField("bot_token", "Bot token", secret=True, help="From @BotFather, e.g. 123456:ABC-DEF..."),
        ConfigField("parse_mode", "Default parse mode", required=False, help="HTML, MarkdownV2 or empty for plain text."),
        ConfigField("webhook_secret", "Webhook secret", secret=True, required=False,
                    help="Generated for you; Telegram sends it back on every webhook call."),
    )

    # Bot API errors carry only the HTTP code and a description; these HTTP codes are final.
    PERMANENT_CODES: ClassVar[frozenset[int]] = frozenset({400, 403})
    # Descriptions (lower case) meaning the recipient must never be messaged again.
    SUPPRESS_DESCRIPTIONS: ClassVar[tuple[str, ...]] = (
        "bot was blocked by the user",
        "user is deactivated",
        "bot was kicked",
        "bot can't initiate conversation",
    )
    # A bad token answers 401 (or 404 "Not Found" for a malformed one).
    CREDENTIAL_CODES: ClassVar[frozenset[int]] = frozenset({401, 404})

    @classmethod
    def generate_secrets(cls) -> dict[str, str]:
        # 1-256 chars of A-Z a-z 0-9 _ - : token_urlsafe fits.
        return {"webhook_secret": secrets.token_urlsafe(32)}

    @property
    def settings(self) -> TelegramSettings:
        s, k = self.config.settings, self.config.secrets
        parse_mode = str(s.get("parse_mode") or "").strip()
        if parse_mode and parse_mode not in PARSE_MODES:
            raise ConfigurationError(f"Telegram: parse mode must be one of {', '.join(PARSE_MODES)} or empty.")
        return TelegramSettings(
            bot_token=str(k.get("bot_token") or "").strip(),
            webhook_secret=str(k.get("webhook_secret") or "").strip(),
            parse_mode=parse_mode,
        )

    def _require_token(self) -> TelegramSettings:
        http.require(self.LABEL, self.fields, self.config.secrets, ("bot_token",))
        return self.settings

    def call(self, method: str, params: dict[str, Any], s: TelegramSettings | None = None) -> Any:
        """Call one Bot API method; return its `result` or raise a classified ProviderError."""
        s = s or self._require_token()
        url = f"{http.setting('TELEGRAM_API_BASE')}/bot{s.bot_token}/{method}"
        response = http.request("POST", url, json=params)
        data = http.json_or_empty(response)
        if response.status_code >= 400 or not data.get("ok", False):
            raise self.classify(response.status_code, data, response.headers)
        return data.get("result")

    # --- sending ---------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        s = self._require_token()
        return http.send_each(messages, lambda m: self._send_one(s, m))

    def _send_one(self, s: TelegramSettings, message: OutboundMessage) -> SendResult:
        chat_id = chat_id_of(message.to)
        options = message.options
        parse_mode = options.get("parse_mode", s.parse_mode) or ""
        if parse_mode and parse_mode not in PARSE_MODES:
            raise ProviderError(f"Unknown Telegram parse mode {parse_mode!r}.", code="invalid_parse_mode", permanent=True)
        common: dict[str, Any] = {"chat_id": chat_id}
        if options.get("silent"):
            common["disable_notification"] = True
        if parse_mode:
            common["parse_mode"] = parse_mode
        markup = _reply_markup(options.get("buttons"))

        calls: list[tuple[str, dict[str, Any]]] = []
        text = message.text
        if message.media:
            media = message.media[0]
            method, field = ("sendPhoto", "photo") if media.content_type.startswith("image/") and media.content_type != "image/gif" else ("sendDocument", "document")
            media_params = {**common, field: media.url}
            if text and len(text) <= self.CAPTION_LIMIT:
                media_params["caption"] = text
                text = ""
            calls.append((method, media_params))
        if text:
            if len(text) > self.TEXT_LIMIT:
                raise ProviderError(f"Telegram text is limited to {self.TEXT_LIMIT} characters ({len(text)} given).",
                                    code="text_too_long", permanent=True)
            text_params = {**common, "text": text}
            if options.get("disable_link_preview"):
                text_params["link_preview_options"] = {"is_disabled": True}
            calls.append(("sendMessage", text_params))
        if not calls:
            raise ProviderError("The Telegram message has no text or media.", code="empty_message", permanent=True)
        # A caption longer than Telegram allows: the media goes first, bare, then the text; the
        # buttons ride on the last message so they sit under the text.
        if markup:
            calls[-1][1]["reply_markup"] = markup

        result: dict[str, Any] = {}
        for method, params in calls:
            result = self.call(method, params, s) or {}
        sent_chat = (result.get("chat") or {}).get("id", chat_id)
        message_id = result.get("message_id")
        if options.get("pin") and message_id is not None:
            self._pin(s, sent_chat, message_id, silent=bool(options.get("silent")))
        return SendResult(
            message_id=message.id,
            provider_message_id=f"{sent_chat}:{message_id}" if message_id is not None else None,
            cost=self.cost(message),
        )

    def _pin(self, s: TelegramSettings, chat_id: Any, message_id: int, *, silent: bool) -> None:
        # The message is out; a failed pin (bot is not an admin) must not turn it into a failure.
        try:
            self.call("pinChatMessage", {"chat_id": chat_id, "message_id": message_id, "disable_notification": silent}, s)
        except ProviderError as exc:
            logger.warning("Telegram pin failed in chat %s: %s", chat_id, exc.message)

    # --- errors ----------------------------------------------------------------------------

    def classify(self, status: int, body: dict, headers=None) -> ProviderError:
        code = body.get("error_code") or status
        try:
            code = int(code)
        except (TypeError, ValueError):
            code = status
        description = str(body.get("description") or f"HTTP {status}")
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        if code == 429:
            retry = parameters.get("retry_after")
            retry_after = float(retry) if isinstance(retry, int | float) else http.retry_after_seconds(headers or {})
            return ProviderError(description, code="429", retry_after=retry_after)
        if code >= 500:
            return ProviderError(description, code=str(code))
        if code in self.CREDENTIAL_CODES:
            return http.credentials_error(f"Telegram rejected the bot token: {description}", code=str(code))
        if parameters.get("migrate_to_chat_id"):
            migrated = ProviderError(f"{description} (new chat id {parameters['migrate_to_chat_id']})",
                                     code="chat_migrated", permanent=True)
            # The group became a supergroup: audiences.telegram moves the stored group to this id.
            migrated.migrate_to_chat_id = parameters["migrate_to_chat_id"]  # type: ignore[attr-defined]
            migrated.moved_to = str(parameters["migrate_to_chat_id"])  # the engine re-sends there once
            return migrated
        lowered = description.lower()
        suppress = any(phrase in lowered for phrase in self.SUPPRESS_DESCRIPTIONS)
        if code not in self.PERMANENT_CODES:
            logger.debug("Unclassified Telegram error %s: %s", code, description)
        return ProviderError(description, code=str(code), permanent=True, suppress_recipient=suppress)

    # --- account / webhook -----------------------------------------------------------------

    def test_connection(self) -> str:
        me = self.call("getMe", {}) or {}
        name = me.get("first_name") or "bot"
        return f"@{me.get('username', '?')} ({name})"

    def set_webhook(self, url: str = "") -> str:
        """Point the bot's webhook at our callback URL, with the stored secret token."""
        s = self._require_token()
        url = url or self.config.callback_url
        if not url:
            raise ConfigurationError("Telegram: no webhook URL to register.")
        if not s.webhook_secret:
            raise ConfigurationError("Telegram: the webhook secret is missing; regenerate the channel's secrets.")
        self.call(
            "setWebhook",
            {"url": url, "secret_token": s.webhook_secret, "allowed_updates": ["message", "my_chat_member"]},
            s,
        )
        return url

    # --- groups and channels ------------------------------------------------------------------

    def member_count(self, chat_id: int | str) -> int:
        """How many members a group or channel has (getChatMemberCount), the bot included."""
        return int(self.call("getChatMemberCount", {"chat_id": chat_id_of(str(chat_id))}) or 0)

    def leave_chat(self, chat_id: int | str) -> None:
        """Take the bot out of a group or channel (leaveChat)."""
        self.call("leaveChat", {"chat_id": chat_id_of(str(chat_id))})

    def member_status(self, chat_id: int | str, user_id: int | str) -> str:
        """Someone's status in a group (getChatMember): creator, administrator, member, restricted,
        left or kicked."""
        member = self.call("getChatMember", {"chat_id": chat_id_of(str(chat_id)), "user_id": user_id_of(user_id)}) or {}
        return str(member.get("status") or "")

    def ban_member(self, chat_id: int | str, user_id: int | str) -> None:
        """Remove someone from a group and bar them from coming back (banChatMember; the bot must be
        an admin with the right to ban). Their messages stay (revoke_messages false)."""
        self.call("banChatMember", {"chat_id": chat_id_of(str(chat_id)), "user_id": user_id_of(user_id),
                                    "revoke_messages": False})

    def unban_member(self, chat_id: int | str, user_id: int | str) -> None:
        """Lift a ban so the person can join again by invite link (unbanChatMember). only_if_banned
        matters: without it Telegram removes a current member, the opposite of an unban."""
        self.call("unbanChatMember", {"chat_id": chat_id_of(str(chat_id)), "user_id": user_id_of(user_id),
                                      "only_if_banned": True})

    def verify_callback(self, request) -> bool:
        expected = self.settings.webhook_secret
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    def parse_callback(self, request) -> list[StatusEvent]:
        try:
            update = json.loads(request.body or b"{}")
        except ValueError:
            return []
        return self.parse_update(update) if isinstance(update, dict) else []

    def parse_update(self, update: dict) -> list[StatusEvent]:
        event_id = f"tg:{update.get('update_id', '')}"
        message = update.get("message")
        if isinstance(message, dict):
            return [self._message_event(message, event_id)]
        member = update.get("my_chat_member")
        if isinstance(member, dict):
            event = self._membership_event(member, event_id)
            return [event] if event else []
        return []

    def _message_event(self, message: dict, event_id: str) -> StatusEvent:
        chat = message.get("chat") or {}
        chat_id = chat.get("id", "")
        text = message.get("text") or message.get("caption") or ""
        replied_to = message.get("reply_to_message") or {}
        replies_to_us = bool(replied_to) and bool((replied_to.get("from") or {}).get("is_bot"))
        private = chat.get("type") == "private"
        return StatusEvent(
            stage=Stage.REPLIED if replies_to_us else None,
            provider_message_id=f"{chat_id}:{replied_to['message_id']}" if replies_to_us and "message_id" in replied_to else "",
            occurred_at=_date(message.get("date")),
            event_id=event_id,
            # Group chatter that answers none of our posts is no reply to a campaign: without an
            # address the engine does not pin it on the group's latest delivery. The chat is in raw.
            from_address=str(chat_id) if private or replies_to_us else "",
            text=text,
            # In a group, one member typing /stop must not unsubscribe everybody.
            keyword=command_keyword(text) if private else "",
            raw=message,
        )

    def _membership_event(self, member: dict, event_id: str) -> StatusEvent | None:
        """A user blocking (status kicked) or unblocking the bot in a private chat; in a group or
        channel, the bot added, promoted or removed (no address, no keyword: audiences reads raw)."""
        chat = member.get("chat") or {}
        if chat.get("type") in GROUP_TYPES:
            return StatusEvent(stage=None, occurred_at=_date(member.get("date")), event_id=event_id, raw=member)
        if chat.get("type") != "private":
            return None
        status = (member.get("new_chat_member") or {}).get("status")
        keyword = {"kicked": "stop", "member": "start"}.get(status or "")
        if not keyword:
            return None
        return StatusEvent(stage=None, occurred_at=_date(member.get("date")), event_id=event_id,
                           from_address=str(chat.get("id", "")), keyword=keyword, raw=member)


def chat_id_of(to: str) -> int | str:
    to = to.strip()
    if to.startswith("@"):
        return to
    try:
        return int(to)
    except ValueError:
        raise ProviderError(f"{to!r} is neither a Telegram chat id nor an @channel name.",
                            code="invalid_recipient", permanent=True) from None


def user_id_of(value: int | str) -> int:
    """A person's Telegram user id (their private chat id with the bot)."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise ProviderError(f"{value!r} is not a Telegram user id.", code="invalid_recipient", permanent=True) from None


def _reply_markup(buttons: Any) -> dict[str, Any] | None:
    if not buttons:
        return None
    rows = [[{"text": str(b["text"]), "url": str(b["url"])}] for b in buttons if b.get("text") and b.get("url")]
    return {"inline_keyboard": rows} if rows else None


def _date(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
