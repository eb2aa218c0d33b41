"""Fake WhatsApp Cloud API (Meta Graph API), mounted under /meta.

Point the adapter at it with WHATSAPP_API_BASE=<fake>/meta. It speaks:
  POST /meta/{version}/{phone-number-id}/messages   send (text, media, template)
  GET  /meta/{version}/{phone-number-id}            phone number details (test_connection)
Simulation routes:
  POST /meta/_config   {"webhook_url": ..., "app_secret": ..., "auto_statuses": ["sent", "delivered", "read"],
                        "callback_delay": 0.2}
  POST /meta/_inbound  {"from": "+9198...", "text": "STOP", "context_id": "wamid..."}  a user writes in
  POST /meta/_status   {"id": "wamid...", "status": "failed", "error_code": 131026}    one status webhook
Every webhook is signed like Meta's: X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, body);
the app secret is DEFAULT_APP_SECRET unless configured.

Scripted errors without a fault queue: a recipient whose digits end in one of ERRORS' codes gets that
Graph error (e.g. +1555 0131050 -> 131050 "user opted out of marketing"); the bearer token
"expired-token" gets code 190.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from aiohttp import web

from channels.fakes._kit import Fault, ProviderFake, bearer, fault_response, read_body

PREFIX = "/meta"
DEFAULT_APP_SECRET = "fake-meta-app-secret"
EXPIRED_TOKEN = "expired-token"

# code -> (HTTP status, message); chosen by the last digits of the recipient number.
ERRORS: dict[int, tuple[int, str]] = {
    131026: (400, "Message undeliverable"),
    131047: (400, "Re-engagement message: more than 24 hours have passed since the recipient last replied"),
    131050: (400, "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    132001: (404, "Template name does not exist in the translation"),
    130429: (400, "Rate limit hit"),
}


def graph_error(code: int | str | None, message: str, *, status: int = 400) -> dict[str, Any]:
    return {"error": {"message": f"(#{code}) {message}" if code is not None else message,
                      "type": "OAuthException", "code": int(code) if str(code).isdigit() else code,
                      "error_data": {"messaging_product": "whatsapp", "details": message},
                      "fbtrace_id": secrets.token_urlsafe(9)}}


def _fault_shape(fault: Fault) -> dict[str, Any]:
    code = fault.code if fault.code is not None else (130429 if fault.status == 429 else 131000 if fault.status >= 500 else 100)
    return graph_error(code, fault.message or f"Injected error {fault.status}", status=fault.status)


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def add_routes(app: web.Application, state: Any) -> None:
    fake = ProviderFake(name="meta", prefix=PREFIX, state=state)
    fake.config.update({"app_secret": DEFAULT_APP_SECRET, "webhook_url": "", "auto_statuses": ["sent", "delivered", "read"],
                        "callback_delay": 0.2})
    sent: dict[str, dict[str, Any]] = {}  # wamid -> {"to", "biz_opaque_callback_data"}

    def webhook(value: dict[str, Any]) -> None:
        url = fake.config.get("webhook_url")
        if not url:
            return
        payload = {"object": "whatsapp_business_account", "entry": [{"id": "FAKE-WABA", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550001111", "phone_number_id": fake.config.get("phone_number_id", "")},
                      **value}}]}]}
        body = json.dumps(payload).encode()
        fake.send_later(url, body, {"Content-Type": "application/json",
                                    "X-Hub-Signature-256": sign(fake.config.get("app_secret") or DEFAULT_APP_SECRET, body)},
                        delay=float(fake.config.get("callback_delay") or 0))

    def status_value(wamid: str, status: str, error_code: int | None = None) -> dict[str, Any]:
        info = sent.get(wamid, {})
        entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                                 "recipient_id": info.get("to", "")}
        if info.get("biz_opaque_callback_data"):
            entry["biz_opaque_callback_data"] = info["biz_opaque_callback_data"]
        if status == "failed":
            code = error_code or 131026
            entry["errors"] = [{"code": code, "title": ERRORS.get(code, (400, "Failed"))[1],
                                "error_data": {"details": ERRORS.get(code, (400, "Message failed"))[1]}}]
        return {"statuses": [entry]}

    async def send_message(request: web.Request) -> web.Response:
        body = await read_body(request)
        to = str(body.get("to", ""))
        entry = fake.record(kind="message", path=request.path, phone_number_id=request.match_info["phone_id"],
                            to=to, type=body.get("type"), body=body, delivery_id=body.get("biz_opaque_callback_data"),
                            authorization=request.headers.get("Authorization", ""))
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        token = bearer(request)
        if not token or token == EXPIRED_TOKEN:
            entry["answered"] = 401
            return web.json_response(graph_error(190, "Error validating access token: Session has expired"), status=401)
        if body.get("messaging_product") != "whatsapp" or not to or body.get("type") not in ("text", "template", "image", "video", "document", "audio"):
            entry["answered"] = 400
            return web.json_response(graph_error(100, "Invalid parameter"), status=400)
        for code, (status, message) in ERRORS.items():
            if to.endswith(str(code)):
                entry["answered"] = status
                return web.json_response(graph_error(code, message), status=status)
        wamid = "wamid." + secrets.token_urlsafe(18)
        sent[wamid] = {"to": to, "biz_opaque_callback_data": body.get("biz_opaque_callback_data", "")}
        entry["answered"] = 200
        entry["wamid"] = wamid
        for status in fake.config.get("auto_statuses") or []:
            webhook(status_value(wamid, status))
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                                  "messages": [{"id": wamid, "message_status": "accepted"}]})

    async def phone_number(request: web.Request) -> web.Response:
        fake.record(kind="phone_number", path=request.path, query=dict(request.query))
        fault = await fake.take_fault()
        if fault is not None:
            return fault_response(fault, _fault_shape)
        if bearer(request) in ("", EXPIRED_TOKEN):
            return web.json_response(graph_error(190, "Error validating access token: Session has expired"), status=401)
        return web.json_response({"verified_name": "Fake Business", "display_phone_number": "+1 555-000-1111",
                                  "quality_rating": "GREEN", "id": request.match_info["phone_id"]})

    async def inbound(request: web.Request) -> web.Response:
        data = await request.json()
        sender = str(data.get("from", "")).lstrip("+")
        message: dict[str, Any] = {"from": sender, "id": "wamid." + secrets.token_urlsafe(18),
                                   "timestamp": str(int(time.time())), "type": "text", "text": {"body": data.get("text", "")}}
        if data.get("context_id"):
            message["context"] = {"from": "15550001111", "id": data["context_id"]}
        webhook({"contacts": [{"profile": {"name": data.get("name", "Fake User")}, "wa_id": sender}], "messages": [message]})
        return web.json_response({"ok": True, "message": message})

    async def status(request: web.Request) -> web.Response:
        data = await request.json()
        value = status_value(str(data["id"]), str(data.get("status", "delivered")), data.get("error_code"))
        webhook(value)
        return web.json_response({"ok": True, **value})

    fake.add_control_routes(app)
    app.router.add_post(f"{PREFIX}/_inbound", inbound)
    app.router.add_post(f"{PREFIX}/_status", status)
    app.router.add_post(PREFIX + "/{version}/{phone_id}/messages", send_message)
    app.router.add_get(PREFIX + "/{version}/{phone_id}", phone_number)
