"""Fake Telegram Bot API, mounted under /telegram: TELEGRAM_API_BASE=<fake>/telegram.

  POST|GET /telegram/bot<token>/<method>   getMe, sendMessage, sendPhoto, sendDocument,
                                           pinChatMessage, setWebhook, deleteWebhook, getWebhookInfo,
                                           getChatMemberCount (config["member_counts"] {chat id: n},
                                           else DEFAULT_MEMBER_COUNT), leaveChat,
                                           getChatMember, banChatMember, unbanChatMember
Chat members: config["chat_members"] {chat id: {user id: status}} (creator, administrator, member,
restricted, left, kicked; anyone not listed has "left"). banChatMember sets "kicked",
unbanChatMember "left" (only_if_banned: only when kicked), so a test reads the config back to see
who is still in a group. config["bot_not_admin"] [chat id, ...]: the bot is a plain member there,
and banChatMember / unbanChatMember answer 400 "not enough rights to restrict/demote chat member".
Simulation:
  POST /telegram/_update  {"chat_id": 5550001, "text": "/stop", "reply_to_message_id": 42,
                           "chat_type": "private"} or {"chat_id": ..., "blocked": true}
                          or {"chat_id": -100, "chat_type": "group", "migrate_to_chat_id": -1001234}
                          (a group upgraded to a supergroup; "migrate_from_chat_id" for the new chat's message)
      posts an update to the webhook URL learnt from setWebhook, with the secret_token it was given
      in X-Telegram-Bot-Api-Secret-Token, config["callback_delay"] seconds later (default 0).
Scripted errors: chat id BLOCKED_CHAT -> 403 "bot was blocked by the user"; MISSING_CHAT or
"@missing..." -> 400 "chat not found"; a chat in config["migrated_chats"] {old id: new id} -> 400
"group chat was upgraded to a supergroup chat" with parameters.migrate_to_chat_id; a token containing "invalid" -> 401 Unauthorized.
"""

from __future__ import annotations

import itertools
import json
import time
import zlib
from typing import Any

from aiohttp import web

from channels.fakes._kit import Fault, ProviderFake, fault_response, read_body

PREFIX = "/telegram"
BLOCKED_CHAT = 403403
MISSING_CHAT = 400400
BOT = {"id": 7000000001, "is_bot": True, "first_name": "Fake Relay Bot", "username": "fake_relay_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024
DEFAULT_MEMBER_COUNT = 42


def error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def _fault_shape(fault: Fault) -> dict[str, Any]:
    if fault.status == 429:
        retry = int(fault.retry_after or 1)
        return {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry}",
                "parameters": {"retry_after": retry}}
    return {"ok": False, "error_code": fault.status, "description": fault.message or f"Injected error {fault.status}"}


def _chat(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, str) and chat_id.startswith("@"):
        return {"id": -1000000000000 - zlib.crc32(chat_id.encode()) % 10**9, "type": "channel", "username": chat_id[1:]}
    number = int(chat_id)
    return {"id": number, "type": "private" if number > 0 else "supergroup"}


def add_routes(app: web.Application, state: Any) -> None:
    fake = ProviderFake(name="telegram", prefix=PREFIX, state=state)
    fake.config.update({"webhook_url": "", "secret_token": "", "callback_delay": 0.0})
    message_ids = itertools.count(1001)
    update_ids = itertools.count(500001)

    def check_chat(chat_id: Any) -> web.Response | None:
        if chat_id in (None, ""):
            return error(400, "Bad Request: chat_id is empty")
        if str(chat_id) == str(BLOCKED_CHAT):
            return error(403, "Forbidden: bot was blocked by the user")
        if str(chat_id) == str(MISSING_CHAT) or str(chat_id).startswith("@missing"):
            return error(400, "Bad Request: chat not found")
        migrated = (fake.config.get("migrated_chats") or {}).get(str(chat_id))
        if migrated is not None:
            return error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                         migrate_to_chat_id=int(migrated))
        try:
            _chat(chat_id)
        except (TypeError, ValueError):
            return error(400, "Bad Request: chat not found")
        return None

    def message_result(params: dict[str, Any], **content: Any) -> web.Response:
        result = {"message_id": next(message_ids), "from": BOT, "chat": _chat(params["chat_id"]), "date": int(time.time()),
                  **content}
        if params.get("reply_markup"):
            result["reply_markup"] = params["reply_markup"]
        return web.json_response({"ok": True, "result": result})

    async def method(request: web.Request) -> web.Response:
        bot = request.match_info["bot"]
        name = request.match_info["method"]
        params = await read_body(request) if request.method == "POST" else dict(request.query)
        for key in ("reply_markup", "link_preview_options") if request.content_type != "application/json" else ():
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        entry = fake.record(kind="call", method=name, token=bot.removeprefix("bot"), params=params)
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        if not bot.startswith("bot") or "invalid" in bot or ":" not in bot:
            entry["answered"] = 401
            return error(401, "Unauthorized")
        response = await handle(name, params)
        entry["answered"] = response.status
        return response

    async def handle(name: str, params: dict[str, Any]) -> web.Response:
        if name == "getMe":
            return web.json_response({"ok": True, "result": BOT})
        if name == "setWebhook":
            fake.config["webhook_url"] = params.get("url", "")
            fake.config["secret_token"] = params.get("secret_token", "")
            fake.config["allowed_updates"] = params.get("allowed_updates")
            return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})
        if name == "deleteWebhook":
            fake.config["webhook_url"] = ""
            return web.json_response({"ok": True, "result": True, "description": "Webhook was deleted"})
        if name == "getWebhookInfo":
            return web.json_response({"ok": True, "result": {"url": fake.config.get("webhook_url", ""),
                                                             "has_custom_certificate": False, "pending_update_count": 0}})
        if name in ("sendMessage", "sendPhoto", "sendDocument", "pinChatMessage", "getChatMemberCount", "leaveChat",
                    "getChatMember", "banChatMember", "unbanChatMember"):
            bad = check_chat(params.get("chat_id"))
            if bad is not None:
                return bad
        if name == "sendMessage":
            text = str(params.get("text") or "")
            if not text:
                return error(400, "Bad Request: message text is empty")
            if len(text) > TEXT_LIMIT:
                return error(400, "Bad Request: message is too long")
            return message_result(params, text=text)
        if name in ("sendPhoto", "sendDocument"):
            field = "photo" if name == "sendPhoto" else "document"
            if not params.get(field):
                return error(400, f"Bad Request: there is no {field} in the request")
            if len(str(params.get("caption") or "")) > CAPTION_LIMIT:
                return error(400, "Bad Request: message caption is too long")
            content: dict[str, Any] = {field: [{"file_id": "fake-file"}] if field == "photo" else {"file_id": "fake-file"}}
            if params.get("caption"):
                content["caption"] = params["caption"]
            return message_result(params, **content)
        if name in ("pinChatMessage", "leaveChat"):
            return web.json_response({"ok": True, "result": True})
        if name == "getChatMemberCount":
            counts = fake.config.get("member_counts") or {}
            return web.json_response({"ok": True, "result": int(counts.get(str(params["chat_id"]), DEFAULT_MEMBER_COUNT))})
        if name in ("getChatMember", "banChatMember", "unbanChatMember"):
            return members(name, params)
        return error(404, "Not Found: method not found")

    def members(name: str, params: dict[str, Any]) -> web.Response:
        chat, user = str(params["chat_id"]), str(params.get("user_id") or "")
        if not user.lstrip("-").isdigit():
            return error(400, "Bad Request: invalid user_id specified")
        chats = fake.config.setdefault("chat_members", {})
        people = chats.setdefault(chat, {})
        status = people.get(user, "left")
        if name == "getChatMember":
            return web.json_response({"ok": True, "result": {"user": {"id": int(user), "is_bot": False,
                                                                      "first_name": "Fake User"}, "status": status}})
        if chat in {str(c) for c in fake.config.get("bot_not_admin") or ()}:
            return error(400, "Bad Request: not enough rights to restrict/demote chat member")
        if name == "banChatMember":
            if status == "creator":
                return error(400, "Bad Request: can't remove chat owner")
            if status == "administrator":
                return error(400, "Bad Request: user is an administrator of the chat")
            people[user] = "kicked"
        elif status == "kicked" or not params.get("only_if_banned"):
            people[user] = "left"  # without only_if_banned Telegram also removes a current member
        return web.json_response({"ok": True, "result": True})

    async def simulate_update(request: web.Request) -> web.Response:
        data = await request.json()
        url = fake.config.get("webhook_url")
        if not url:
            return web.json_response({"ok": False, "error": "no webhook set (call setWebhook first)"}, status=409)
        chat_id = int(data.get("chat_id", 5550001))
        chat_type = data.get("chat_type") or ("private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat.update({key: data[key] for key in ("title", "username") if data.get(key)})
        user = {"id": int(data.get("from_id", chat_id if chat_id > 0 else 5550001)), "is_bot": False,
                "first_name": data.get("first_name") or "Fake User"}
        if data.get("last_name"):
            user["last_name"] = data["last_name"]
        if data.get("from_username"):
            user["username"] = data["from_username"]
        update: dict[str, Any] = {"update_id": next(update_ids)}
        if data.get("bot_status"):
            new = data["bot_status"]
            update["my_chat_member"] = {
                "chat": chat, "from": user, "date": int(time.time()),
                "old_chat_member": {"user": BOT, "status": "member" if new in ("left", "kicked") else "left"},
                "new_chat_member": {"user": BOT, "status": new},
            }
        elif data.get("blocked") is not None:
            update["my_chat_member"] = {
                "chat": chat, "from": user, "date": int(time.time()),
                "old_chat_member": {"user": BOT, "status": "member" if data["blocked"] else "kicked"},
                "new_chat_member": {"user": BOT, "status": "kicked" if data["blocked"] else "member"},
            }
        else:
            message: dict[str, Any] = {"message_id": next(message_ids), "from": user, "chat": chat,
                                       "date": int(time.time())}
            migrated = {key: int(data[key]) for key in ("migrate_to_chat_id", "migrate_from_chat_id") if data.get(key)}
            # A group upgraded to a supergroup: service messages with no text, one in each chat.
            message.update(migrated or {"text": data.get("text", "")})
            if data.get("reply_to_message_id"):
                message["reply_to_message"] = {"message_id": int(data["reply_to_message_id"]), "from": BOT, "chat": chat,
                                               "date": int(time.time()) - 60, "text": "(our message)"}
            update["message"] = message
        headers = {"Content-Type": "application/json"}
        if fake.config.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = fake.config["secret_token"]
        fake.send_later(url, json.dumps(update).encode(), headers, float(fake.config.get("callback_delay") or 0))
        return web.json_response({"ok": True, "update": update})

    fake.add_control_routes(app)
    app.router.add_post(f"{PREFIX}/_update", simulate_update)
    app.router.add_route("*", PREFIX + "/{bot}/{method}", method)
