"""Fake SendGrid v3 API, mounted under /sendgrid: SENDGRID_API_HOST=<fake>/sendgrid.

  POST /sendgrid/v3/mail/send   Bearer API key (must start with "SG."; "invalid" in it -> 401);
                                202 + X-Message-Id, records the personalizations
  GET  /sendgrid/v3/scopes      {"scopes": [...]} (a key containing "readonly" lacks mail.send)
  GET  /sendgrid/public-key     {"public_key": base64 DER} of the key the fake signs events with
Event Webhook: with config["webhook_url"] set, every accepted personalization produces the events
in config["events"] (default processed, delivered), POSTed as one signed batch (ECDSA P-256 over
timestamp + body, like SendGrid). Recipients starting with "bounce@" get a bounce instead of
delivered, "dropped@" a dropped event.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.fakes._kit import Fault, ProviderFake, bearer, fault_response

PREFIX = "/sendgrid"
MAX_PERSONALIZATIONS = 1000


def errors(status: int, *items: tuple[str, str | None]) -> web.Response:
    body = {"errors": [{"message": message, "field": field, "help": None} for message, field in items]}
    return web.json_response(body, status=status)


def _fault_shape(fault: Fault) -> dict[str, Any]:
    message = fault.message or ("too many requests" if fault.status == 429 else f"Injected error {fault.status}")
    return {"errors": [{"message": message, "field": None, "help": None}]}


def sign(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def validate(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(("The personalizations field is required and must have at least one personalization.",
                         "personalizations"))
        personalizations = []
    if len(personalizations) > MAX_PERSONALIZATIONS:
        problems.append(("The personalizations field may not have more than 1000 items.", "personalizations"))
    if not (body.get("from") or {}).get("email"):
        problems.append(("The from object must be provided for every email send.", "from.email"))
    if not body.get("content") and not body.get("template_id"):
        problems.append(("Unless a valid template_id is provided, the content parameter is required.", "content"))
    for index, item in enumerate(personalizations):
        if not item.get("to"):
            problems.append(("The to array is required for all personalization objects.",
                             f"personalizations.{index}.to"))
        elif any("@" not in str(to.get("email", "")) for to in item["to"]):
            problems.append(("Does not contain a valid address.", f"personalizations.{index}.to"))
        if not item.get("subject") and not body.get("subject") and not body.get("template_id"):
            problems.append(("The subject is required.", f"personalizations.{index}.subject"))
    return problems


def add_routes(app: web.Application, state: Any) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    public_b64 = base64.b64encode(public_der).decode()
    fake = ProviderFake(name="sendgrid", prefix=PREFIX, state=state)
    fake.config.update({"webhook_url": "", "events": ["processed", "delivered"], "callback_delay": 0.0})
    event_ids = itertools.count(1)

    def key_problem(request: web.Request, entry: dict[str, Any]) -> web.Response | None:
        key = bearer(request)
        if not key.startswith("SG.") or "invalid" in key:
            entry["answered"] = 401
            return errors(401, ("The provided authorization grant is invalid, expired, or revoked", None))
        return None

    async def mail_send(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = fake.record(kind="mail", body=body, api_key=bearer(request))
        bad = key_problem(request, entry)
        if bad is not None:
            return bad
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        if not isinstance(body, dict):
            entry["answered"] = 400
            return errors(400, ("Bad Request", None))
        problems = validate(body)
        if problems:
            entry["answered"] = 400
            return errors(400, *problems)
        message_id = secrets.token_urlsafe(16)[:22]
        entry["answered"] = 202
        entry["message_id"] = message_id
        entry["personalizations"] = body["personalizations"]
        if fake.config.get("webhook_url"):
            post_events(message_id, body)
        return web.Response(status=202, headers={"X-Message-Id": message_id})

    def post_events(message_id: str, body: dict[str, Any]) -> None:
        now = int(time.time())
        events = []
        for index, item in enumerate(body["personalizations"]):
            email = item["to"][0]["email"]
            custom = {**(body.get("custom_args") or {}), **(item.get("custom_args") or {})}
            sg_message_id = f"{message_id}.filterdrecv-fake-{index}"
            for kind in fake.config.get("events") or []:
                if kind == "delivered" and email.startswith("bounce@"):
                    kind = "bounce"
                if kind == "delivered" and email.startswith("dropped@"):
                    kind = "dropped"
                event: dict[str, Any] = {"email": email, "timestamp": now, "event": kind,
                                         "sg_event_id": f"fake-ev-{next(event_ids)}", "sg_message_id": sg_message_id,
                                         "smtp-id": f"<{message_id}@fake.sendgrid.net>", **custom}
                if kind == "bounce":
                    event.update({"reason": "550 5.1.1 The email account that you tried to reach does not exist.",
                                  "status": "5.1.1", "type": "bounce"})
                if kind == "dropped":
                    event.update({"reason": "Bounced Address", "status": "5.0.0"})
                events.append(event)
        raw = json.dumps(events).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json",
                   "X-Twilio-Email-Event-Webhook-Signature": sign(private_key, timestamp, raw),
                   "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}
        fake.send_later(fake.config["webhook_url"], raw, headers, float(fake.config.get("callback_delay") or 0))

    async def scopes(request: web.Request) -> web.Response:
        entry = fake.record(kind="scopes", api_key=bearer(request))
        bad = key_problem(request, entry)
        if bad is not None:
            return bad
        fault = await fake.take_fault()
        if fault is not None:
            return fault_response(fault, _fault_shape)
        granted = ["user.profile.read"] if "readonly" in bearer(request) else ["mail.send", "user.profile.read"]
        return web.json_response({"scopes": granted})

    async def public_key(request: web.Request) -> web.Response:
        return web.json_response({"public_key": public_b64})

    fake.add_control_routes(app)
    app.router.add_get(f"{PREFIX}/public-key", public_key)
    app.router.add_post(f"{PREFIX}/v3/mail/send", mail_send)
    app.router.add_get(f"{PREFIX}/v3/scopes", scopes)
