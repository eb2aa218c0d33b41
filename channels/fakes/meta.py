"""Fake WhatsApp Cloud API (Meta Graph API), mounted under /meta.

Point the adapter at it with WHATSAPP_API_BASE=<fake>/meta. It speaks:
  POST /meta/{version}/{phone-number-id}/messages   send (text, media, template)
  GET  /meta/{version}/{phone-number-id}            phone number details (test_connection)
  POST /meta/{version}/{waba-id}/message_templates  submit a template (answers PENDING)
  GET  /meta/{version}/{waba-id}/message_templates?name=...  templates with status / rejected_reason
  POST /meta/{version}/{template-id}                edit (resubmit) a template: back to PENDING
  POST /meta/{version}/{app-id}/uploads             Resumable Upload API: open a session
  POST /meta/{version}/upload:{session}             ... send the file, answers {"h": handle}; a media
                                                    HEADER must carry a handle it gave out
Template reviews: a PENDING template is decided when it is next read, as the config says:
  POST /meta/_config {"template_status": "APPROVED" | "REJECTED" | "PENDING",
                      "template_rejected_reason": "PROMOTIONAL",
                      "template_reviews": {"<name>": {"status": "REJECTED", "rejected_reason": "SCAM"}}}
(default APPROVED; template_reviews overrides per template name).
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
import re
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
                        "callback_delay": 0.2, "template_status": "APPROVED", "template_rejected_reason": "INVALID_FORMAT",
                        "template_reviews": {}})
    templates: dict[str, dict[str, Any]] = {}  # template id -> the stored template
    uploads: dict[str, str] = {}  # upload session id -> the handle of its file ("" until the bytes arrive)
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

    async def authorized(request: web.Request, entry: dict[str, Any]) -> web.Response | None:
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        if bearer(request) in ("", EXPIRED_TOKEN):
            entry["answered"] = 401
            return web.json_response(graph_error(190, "Error validating access token: Session has expired"), status=401)
        return None

    def review(template: dict[str, Any]) -> None:
        if template["status"] != "PENDING":
            return
        decided = {"status": fake.config.get("template_status") or "APPROVED",
                   "rejected_reason": fake.config.get("template_rejected_reason") or "INVALID_FORMAT",
                   **((fake.config.get("template_reviews") or {}).get(template["name"]) or {})}
        template["status"] = str(decided["status"]).upper()
        template["rejected_reason"] = decided["rejected_reason"] if template["status"] == "REJECTED" else "NONE"

    def template_problem(body: dict[str, Any], *, creating: bool) -> str:
        if creating and not re.fullmatch(r"[a-z0-9_]{1,512}", str(body.get("name", ""))):
            return "Invalid parameter: name must be lower-case letters, digits and underscores"
        if creating and not body.get("language"):
            return "Invalid parameter: language is required"
        if str(body.get("category", "")).upper() not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            return "Invalid parameter: category"
        bodies = [c for c in body.get("components") or [] if isinstance(c, dict) and c.get("type") == "BODY"]
        if len(bodies) != 1 or not bodies[0].get("text"):
            return "Invalid parameter: a template needs one BODY component with text"
        if re.search(r"\{\{\s*\d+\s*\}\}", bodies[0]["text"]) and not (bodies[0].get("example") or {}).get("body_text"):
            return "Invalid parameter: a body with variables needs example body_text"
        for header in (c for c in body.get("components") or [] if isinstance(c, dict) and c.get("type") == "HEADER"):
            if header.get("format") in ("IMAGE", "VIDEO", "DOCUMENT"):
                handles = (header.get("example") or {}).get("header_handle") or []
                if not handles or any(h not in uploads.values() for h in handles):
                    return "Invalid parameter: a media header needs an example header_handle from the upload API"
        return ""

    async def upload_session(request: web.Request) -> web.Response:
        """Resumable Upload API, step 1: POST /{app-id}/uploads?file_length=&file_type= opens a session."""
        entry = fake.record(kind="upload_session", path=request.path, app_id=request.match_info["app_id"],
                            query=dict(request.query))
        bad = await authorized(request, entry)
        if bad is not None:
            return bad
        if not request.query.get("file_length", "").isdigit() or not request.query.get("file_type"):
            entry["answered"] = 400
            return web.json_response(graph_error(100, "Invalid parameter: file_length and file_type"), status=400)
        session = f"upload:{secrets.token_hex(12)}"
        uploads[session] = ""
        entry["answered"] = 200
        return web.json_response({"id": session})

    async def upload_file(request: web.Request) -> web.Response:
        """Step 2: POST /{upload-session-id} with the bytes (Authorization: OAuth <token>, file_offset: 0)."""
        data = await request.read()
        session = request.match_info["session"]
        entry = fake.record(kind="upload_file", path=request.path, size=len(data),
                            file_offset=request.headers.get("file_offset", ""))
        if not request.headers.get("Authorization", "").startswith("OAuth ") or session not in uploads:
            entry["answered"] = 400
            return web.json_response(graph_error(100, "Invalid upload session or authorization"), status=400)
        uploads[session] = f"4::{secrets.token_urlsafe(24)}"
        entry["answered"] = 200
        return web.json_response({"h": uploads[session]})

    async def create_template(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry = fake.record(kind="template_create", path=request.path, waba_id=request.match_info["waba_id"], body=body)
        bad = await authorized(request, entry)
        if bad is not None:
            return bad
        problem = template_problem(body, creating=True)
        if not problem and any(t["waba_id"] == request.match_info["waba_id"] and t["name"] == body["name"]
                               and t["language"] == body["language"] for t in templates.values()):
            problem = "Message template already exists in this language"
        if problem:
            entry["answered"] = 400
            return web.json_response(graph_error(100, problem), status=400)
        template_id = str(secrets.randbelow(10**15) + 10**15)
        templates[template_id] = {"id": template_id, "waba_id": request.match_info["waba_id"], "name": body["name"],
                                  "language": body["language"], "category": str(body["category"]).upper(),
                                  "components": body["components"], "status": "PENDING", "rejected_reason": "NONE"}
        entry["answered"] = 200
        return web.json_response({"id": template_id, "status": "PENDING", "category": str(body["category"]).upper()})

    async def list_templates(request: web.Request) -> web.Response:
        entry = fake.record(kind="template_list", path=request.path, waba_id=request.match_info["waba_id"],
                            query=dict(request.query))
        bad = await authorized(request, entry)
        if bad is not None:
            return bad
        name = request.query.get("name")
        rows = [t for t in templates.values() if t["waba_id"] == request.match_info["waba_id"]
                and (not name or t["name"] == name)]
        for template in rows:
            review(template)
        entry["answered"] = 200
        return web.json_response({"data": [{k: v for k, v in t.items() if k != "waba_id"} for t in rows],
                                  "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}})

    async def edit_template(request: web.Request) -> web.Response:
        body = await read_body(request)
        entry = fake.record(kind="template_edit", path=request.path, template_id=request.match_info["template_id"],
                            body=body)
        bad = await authorized(request, entry)
        if bad is not None:
            return bad
        template = templates.get(request.match_info["template_id"])
        if template is None:
            entry["answered"] = 404
            return web.json_response(graph_error(100, "Unsupported post request: object does not exist"), status=404)
        problem = template_problem(body, creating=False)
        if problem:
            entry["answered"] = 400
            return web.json_response(graph_error(100, problem), status=400)
        template.update(components=body["components"], category=str(body["category"]).upper(), status="PENDING",
                        rejected_reason="NONE")
        entry["answered"] = 200
        return web.json_response({"success": True})

    base_reset = fake.reset

    def reset() -> None:
        base_reset()
        templates.clear()
        uploads.clear()

    fake.reset = reset  # type: ignore[method-assign]  # a reset forgets submitted templates too
    fake.add_control_routes(app)
    app.router.add_post(PREFIX + "/{version}/{app_id}/uploads", upload_session)
    app.router.add_post(PREFIX + "/{version}/{session:upload:[^/]+}", upload_file)
    app.router.add_post(PREFIX + "/{version}/{waba_id}/message_templates", create_template)
    app.router.add_get(PREFIX + "/{version}/{waba_id}/message_templates", list_templates)
    app.router.add_post(f"{PREFIX}/_inbound", inbound)
    app.router.add_post(f"{PREFIX}/_status", status)
    app.router.add_post(PREFIX + "/{version}/{phone_id}/messages", send_message)
    app.router.add_get(PREFIX + "/{version}/{phone_id}", phone_number)
    app.router.add_post(PREFIX + "/{version}/{template_id}", edit_template)
