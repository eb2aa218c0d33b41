"""Fake Twilio REST API (2010-04-01), mounted under /twilio: TWILIO_API_BASE=<fake>/twilio.

  GET  /twilio/2010-04-01/Accounts/{sid}.json           the account (test_connection)
  POST /twilio/2010-04-01/Accounts/{sid}/Messages.json  SMS / WhatsApp (form-encoded, Basic auth)
  POST /twilio/2010-04-01/Accounts/{sid}/Calls.json     calls with inline Twiml
Auth: Basic <sid>:<token>; the user must match the sid in the path and a token containing
"invalid" is refused (20003). Callbacks are signed with the token the request authenticated with,
like Twilio does (X-Twilio-Signature, RequestValidator.compute_signature).
Scripted recipients (Twilio's own magic test numbers):
  +15005550001 -> 21211 invalid number     +15005550002 -> 21612 cannot route
  +15005550003 -> 21408 no permission      +15005550004 -> 21610 unsubscribed (STOP)
  +15005550009 -> 21614 not a mobile number
Status callbacks: after a message, StatusCallback gets config["message_statuses"] (default
sent, delivered); after a call, config["call_statuses"] (default initiated, ringing, in-progress,
completed) with AnsweredBy=config["answered_by"] when MachineDetection was asked; an async AMD
callback goes to AsyncAmdStatusCallback.
Simulation: POST /twilio/_inbound {"url": ..., "token": ..., "from": "+1...", "to": ..., "body": "STOP"}
posts a signed inbound message to `url`.
Content API (content.twilio.com, reached as TWILIO_API_BASE/content):
  POST /twilio/content/v1/Content                                    create a content template (JSON)
  POST /twilio/content/v1/Content/{sid}/ApprovalRequests/whatsapp    submit it to WhatsApp ("received")
  GET  /twilio/content/v1/Content/{sid}/ApprovalRequests             the review, decided on first read
    by config["template_status"] ("approved" | "rejected" | "pending", default approved) with
    config["template_rejection_reason"], or config["template_reviews"][name] = {"status", "rejection_reason"}.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, ClientTimeout, web
from twilio.request_validator import RequestValidator

from channels.fakes._kit import Fault, ProviderFake, fault_response
from channels.providers.sms_segments import segments

PREFIX = "/twilio"
API = f"{PREFIX}/2010-04-01/Accounts"
MAGIC_ERRORS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def twilio_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
    return web.json_response(body, status=status, headers=headers or {})


def _fault_shape(fault: Fault) -> dict[str, Any]:
    code = fault.code or (20429 if fault.status == 429 else 20500 if fault.status >= 500 else 21000)
    return {"code": int(code), "message": fault.message or ("Too Many Requests" if fault.status == 429
                                                             else f"Injected error {fault.status}"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": fault.status}


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _basic(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except ValueError:
        return None
    return user, password


async def _form_params(request: web.Request, repeated: str = "") -> dict[str, Any]:
    """The form's fields (the last value of each), and the `repeated` field's values as a list."""
    form = await request.post()
    params: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values = [v for v in form.getall(repeated, []) if isinstance(v, str)] if repeated else []
    if values:
        params[repeated] = values
    return params


def sign(token: str, url: str, params: dict[str, str]) -> str:
    return RequestValidator(token).compute_signature(url, params)


def add_routes(app: web.Application, state: Any) -> None:
    fake = ProviderFake(name="twilio", prefix=PREFIX, state=state)
    fake.config.update({
        "message_statuses": ["sent", "delivered"],
        "call_statuses": ["initiated", "ringing", "in-progress", "completed"],
        "answered_by": "human",
        "callback_delay": 0.0,
        "template_status": "approved",
        "template_rejection_reason": "The template contains content that violates WhatsApp's policies.",
        "template_reviews": {},
    })
    contents: dict[str, dict[str, Any]] = {}  # content sid -> content and its WhatsApp approval
    counter = itertools.count(1)
    tasks: set = set()

    async def deliver(url: str, token: str, params: dict[str, str]) -> None:
        headers = {"X-Twilio-Signature": sign(token, url, params),
                   "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
        try:
            async with ClientSession(timeout=ClientTimeout(total=10)) as session:
                async with session.post(url, data=urlencode(params), headers=headers) as response:
                    fake.record(kind="callback", url=url, status=response.status, params=params)
        except Exception as exc:  # noqa: BLE001 - an app that is down must not kill the fake
            fake.record(kind="callback", url=url, status=None, error=str(exc), params=params)

    def background(coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def post_signed(url: str, token: str, params: dict[str, str]) -> None:
        background(deliver(url, token, params))

    def callbacks_in_order(items: list[tuple[str, dict[str, str]]], token: str) -> None:
        """Deliver one after the other (each waits for the previous answer), like Twilio's ordering."""
        delay = float(fake.config.get("callback_delay") or 0)

        async def run() -> None:
            for url, params in items:
                if delay:
                    await asyncio.sleep(delay)
                await deliver(url, token, params)

        background(run())

    async def authenticate(request: web.Request, entry: dict[str, Any]) -> tuple[str | None, web.Response | None]:
        sid = request.match_info["sid"]
        creds = _basic(request)
        if creds is None or creds[0] != sid or not creds[1] or "invalid" in creds[1]:
            entry["answered"] = 401
            return None, twilio_error(401, 20003, "Authenticate")
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return None, fault_response(fault, _fault_shape)
        return creds[1], None

    async def account(request: web.Request) -> web.Response:
        entry = fake.record(kind="call", resource="Account", sid=request.match_info["sid"])
        token, bad = await authenticate(request, entry)
        if bad is not None:
            return bad
        sid = request.match_info["sid"]
        entry["answered"] = 200
        return web.json_response({"sid": sid, "friendly_name": "Fake Twilio account", "status": "active",
                                  "type": "Trial", "date_created": formatdate(usegmt=True),
                                  "uri": f"/2010-04-01/Accounts/{sid}.json"})

    async def messages(request: web.Request) -> web.Response:
        params = await _form_params(request, repeated="MediaUrl")
        media = params.get("MediaUrl", [])
        entry = fake.record(kind="message", sid=request.match_info["sid"], params=params)
        token, bad = await authenticate(request, entry)
        if bad is not None:
            return bad
        to = params.get("To", "")
        number = to.removeprefix("whatsapp:")
        if not to:
            entry["answered"] = 400
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if number in MAGIC_ERRORS:
            code, text = MAGIC_ERRORS[number]
            entry["answered"] = 400
            return twilio_error(400, code, text)
        if not params.get("From") and not params.get("MessagingServiceSid"):
            entry["answered"] = 400
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not params.get("Body") and not media and not params.get("ContentSid"):
            entry["answered"] = 400
            return twilio_error(400, 21602, "Message body is required.")
        message_sid = _sid("SM")
        entry["answered"] = 201
        entry["message_sid"] = message_sid
        body = params.get("Body", "")
        account_sid = request.match_info["sid"]
        callback = params.get("StatusCallback")
        if callback:
            base = {"MessageSid": message_sid, "SmsSid": message_sid, "AccountSid": account_sid, "To": to,
                    "From": params.get("From", ""), "ApiVersion": "2010-04-01"}
            items = []
            for status in fake.config.get("message_statuses") or []:
                item = {**base, "MessageStatus": status, "SmsStatus": status}
                if status in ("failed", "undelivered"):
                    item["ErrorCode"] = str(fake.config.get("error_code") or "30003")
                items.append((callback, item))
            callbacks_in_order(items, token or "")
        return web.json_response({
            "sid": message_sid, "account_sid": account_sid, "to": to, "from": params.get("From"),
            "messaging_service_sid": params.get("MessagingServiceSid"), "body": body, "status": "queued",
            "num_segments": str(segments(body)[1]), "num_media": str(len(media)), "direction": "outbound-api",
            "api_version": "2010-04-01", "price": None, "price_unit": "USD", "error_code": None,
            "error_message": None, "date_created": formatdate(usegmt=True), "date_updated": formatdate(usegmt=True),
            "date_sent": None, "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}.json",
            "subresource_uris": {},
        }, status=201)

    async def calls(request: web.Request) -> web.Response:
        params = await _form_params(request, repeated="StatusCallbackEvent")
        entry = fake.record(kind="call", resource="Call", sid=request.match_info["sid"], params=params)
        token, bad = await authenticate(request, entry)
        if bad is not None:
            return bad
        to = params.get("To", "")
        if to in MAGIC_ERRORS:
            entry["answered"] = 400
            return twilio_error(400, 13224 if to == "+15005550001" else MAGIC_ERRORS[to][0], MAGIC_ERRORS[to][1])
        if not params.get("Twiml") and not params.get("Url"):
            entry["answered"] = 400
            return twilio_error(400, 21205, "Url or Twiml parameter is required.")
        call_sid = _sid("CA")
        entry["answered"] = 201
        entry["call_sid"] = call_sid
        account_sid = request.match_info["sid"]
        base = {"CallSid": call_sid, "AccountSid": account_sid, "To": to, "From": params.get("From", ""),
                "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        items = []
        answered_by = str(fake.config.get("answered_by") or "human")
        callback = params.get("StatusCallback")
        if callback:
            for status in fake.config.get("call_statuses") or []:
                item = {**base, "CallStatus": status, "Timestamp": formatdate(usegmt=True)}
                if status == "completed":
                    item["CallDuration"] = "12"
                if params.get("MachineDetection") and status in ("in-progress", "completed") \
                        and params.get("AsyncAmd") != "true":
                    item["AnsweredBy"] = answered_by
                items.append((callback, item))
        amd_callback = params.get("AsyncAmdStatusCallback")
        if amd_callback and params.get("AsyncAmd") == "true":
            items.insert(min(3, len(items)), (amd_callback, {**base, "AnsweredBy": answered_by,
                                                            "MachineDetectionDuration": "2100"}))
        if items:
            callbacks_in_order(items, token or "")
        return web.json_response({
            "sid": call_sid, "account_sid": account_sid, "to": to, "from": params.get("From"), "status": "queued",
            "direction": "outbound-api", "api_version": "2010-04-01", "answered_by": None,
            "date_created": formatdate(usegmt=True), "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json",
            "subresource_uris": {},
        }, status=201)

    async def update_call(request: web.Request) -> web.Response:
        params = await _form_params(request)
        entry = fake.record(kind="call", resource="CallUpdate", sid=request.match_info["sid"],
                            call_sid=request.match_info["call"], params=params)
        _token, bad = await authenticate(request, entry)
        if bad is not None:
            return bad
        entry["answered"] = 200
        return web.json_response({"sid": request.match_info["call"], "account_sid": request.match_info["sid"],
                                  "status": params.get("Status", "in-progress")})

    async def simulate_inbound(request: web.Request) -> web.Response:
        data = await request.json()
        url, token = data.get("url"), data.get("token", "")
        if not url:
            return web.json_response({"ok": False, "error": "url is required"}, status=400)
        sid = _sid("SM")
        params = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": data.get("account_sid", "AC" + "0" * 32),
                  "From": data.get("from", "+15005550010"), "To": data.get("to", "+15005550006"),
                  "Body": data.get("body", ""), "NumMedia": "0", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        if data.get("replied_to"):
            params["OriginalRepliedMessageSid"] = data["replied_to"]
        post_signed(url, token, params)
        return web.json_response({"ok": True, "params": params, "n": next(counter), "at": time.time()})

    async def content_auth(request: web.Request, entry: dict[str, Any]) -> web.Response | None:
        creds = _basic(request)
        if creds is None or not creds[0].startswith("AC") or not creds[1] or "invalid" in creds[1]:
            entry["answered"] = 401
            return twilio_error(401, 20003, "Authenticate")
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        return None

    async def content_create(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = fake.record(kind="content", resource="Content", body=body)
        bad = await content_auth(request, entry)
        if bad is not None:
            return bad
        types = (body or {}).get("types") if isinstance(body, dict) else None
        if not isinstance(types, dict) or not types or any(not k.startswith(("twilio/", "whatsapp/")) or v is None
                                                           for k, v in types.items()):
            entry["answered"] = 400
            return twilio_error(400, 20001, "Invalid types. At least one content type definition is required")
        sid = _sid("HX")
        account = (_basic(request) or ("", ""))[0]
        contents[sid] = {"sid": sid, "account_sid": account, "friendly_name": body.get("friendly_name", ""),
                         "language": body.get("language", "en"), "variables": body.get("variables") or {},
                         "types": types, "approval": None}
        entry["answered"] = 201
        entry["sid"] = sid
        return web.json_response({**{k: v for k, v in contents[sid].items() if k != "approval"},
                                  "date_created": formatdate(usegmt=True), "date_updated": formatdate(usegmt=True),
                                  "url": f"https://content.twilio.com/v1/Content/{sid}",
                                  "links": {"approval_create": f"https://content.twilio.com/v1/Content/{sid}/ApprovalRequests/whatsapp",
                                            "approval_fetch": f"https://content.twilio.com/v1/Content/{sid}/ApprovalRequests"}},
                                 status=201)

    async def content_approval_create(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        entry = fake.record(kind="content", resource="ApprovalCreate", sid=request.match_info["content"], body=body)
        bad = await content_auth(request, entry)
        if bad is not None:
            return bad
        content = contents.get(request.match_info["content"])
        if content is None:
            entry["answered"] = 404
            return twilio_error(404, 20404, "The requested resource was not found")
        if not body.get("name") or str(body.get("category", "")).upper() not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            entry["answered"] = 400
            return twilio_error(400, 20001, "Invalid name or category")
        content_type = next(iter(content["types"]))
        content["approval"] = {"type": "whatsapp", "name": body["name"], "category": str(body["category"]).upper(),
                               "content_type": content_type, "status": "received", "rejection_reason": "",
                               "allow_category_change": True}
        entry["answered"] = 201
        return web.json_response({k: v for k, v in content["approval"].items() if k != "type"}, status=201)

    async def content_approval_fetch(request: web.Request) -> web.Response:
        entry = fake.record(kind="content", resource="ApprovalFetch", sid=request.match_info["content"])
        bad = await content_auth(request, entry)
        if bad is not None:
            return bad
        content = contents.get(request.match_info["content"])
        if content is None:
            entry["answered"] = 404
            return twilio_error(404, 20404, "The requested resource was not found")
        approval = content["approval"]
        if approval is None:
            approval = {"type": "whatsapp", "name": "", "category": "", "content_type": "", "status": "unsubmitted",
                        "rejection_reason": ""}
        elif approval["status"] in ("received", "pending"):
            decided = {"status": fake.config.get("template_status") or "approved",
                       "rejection_reason": fake.config.get("template_rejection_reason") or "",
                       **((fake.config.get("template_reviews") or {}).get(approval["name"]) or {})}
            approval["status"] = str(decided["status"]).lower()
            approval["rejection_reason"] = decided["rejection_reason"] if approval["status"] == "rejected" else ""
        entry["answered"] = 200
        sid = content["sid"]
        return web.json_response({"sid": sid, "account_sid": content["account_sid"], "whatsapp": approval,
                                  "url": f"https://content.twilio.com/v1/Content/{sid}/ApprovalRequests"})

    base_reset = fake.reset

    def reset() -> None:
        base_reset()
        contents.clear()

    fake.reset = reset  # type: ignore[method-assign]  # a reset forgets content templates too
    fake.add_control_routes(app)
    app.router.add_post(f"{PREFIX}/content/v1/Content", content_create)
    app.router.add_post(PREFIX + "/content/v1/Content/{content}/ApprovalRequests/whatsapp", content_approval_create)
    app.router.add_get(PREFIX + "/content/v1/Content/{content}/ApprovalRequests", content_approval_fetch)
    app.router.add_post(f"{PREFIX}/_inbound", simulate_inbound)
    app.router.add_get(API + "/{sid}.json", account)
    app.router.add_post(API + "/{sid}/Messages.json", messages)
    app.router.add_post(API + "/{sid}/Calls.json", calls)
    app.router.add_post(API + "/{sid}/Calls/{call}.json", update_call)
