"""Fake push service (RFC 8030 + VAPID, RFC 8292), mounted under /push-service.

  POST   /push-service/_subscribe   mint a browser-like subscription: {"endpoint", "keys": {"p256dh", "auth"}};
                                    the fake keeps the private half, so it can decrypt what it is sent
  DELETE /push-service/{id}         the user unsubscribed: later pushes answer 410 Gone
  POST   /push-service/{id}         a push: needs a well-formed VAPID Authorization header
                                    ("vapid t=<JWT>,k=<key>", signature checked), a TTL header and
                                    aes128gcm content; answers 201 with a Location, 404 for an
                                    unknown subscription, 410 for a gone one, 401 for bad VAPID.
The decrypted JSON payload is recorded, with our delivery id (payload "id") as delivery_id.
Faults (429 with Retry-After, 5xx, delays) come from the shared /push-service/_fault queue.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from channels.fakes._kit import Fault, ProviderFake, fault_response

PREFIX = "/push-service"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fault_shape(fault: Fault) -> dict[str, Any]:
    # Mozilla autopush's error body.
    return {"code": fault.status, "errno": 999, "error": "Injected", "message": fault.message or f"Injected error {fault.status}"}


def check_vapid(header: str, endpoint_origin: str) -> str | None:
    """None when the Authorization header is a valid VAPID token for this origin, else why not."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "vapid":
        return "Authorization must use the vapid scheme"
    parts = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
    token, key = parts.get("t", "").strip(), parts.get("k", "").strip()
    if token.count(".") != 2 or not key:
        return "Authorization needs t=<JWT> and k=<public key>"
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
        valid = Vapid02.verify(header)
    except Exception as exc:  # noqa: BLE001 - any decode failure means malformed
        return f"Malformed VAPID token: {exc.__class__.__name__}"
    if not valid:
        return "VAPID signature does not verify"
    if claims.get("aud") != endpoint_origin:
        return f"VAPID aud {claims.get('aud')!r} does not match {endpoint_origin!r}"
    if int(claims.get("exp", 0)) < time.time():
        return "VAPID token expired"
    if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
        return "VAPID sub must be a mailto: or https: URL"
    return None


def add_routes(app: web.Application, state: Any) -> None:
    fake = ProviderFake(name="webpush", prefix=PREFIX, state=state)
    subscriptions: dict[str, dict[str, Any]] = {}

    async def subscribe(request: web.Request) -> web.Response:
        private_key = ec.generate_private_key(ec.SECP256R1())
        public = private_key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        auth = secrets.token_bytes(16)
        sub_id = secrets.token_urlsafe(16)
        subscriptions[sub_id] = {"private_key": private_key, "auth": auth, "gone": False}
        origin = f"{request.scheme}://{request.host}"
        return web.json_response({"endpoint": f"{origin}{PREFIX}/{sub_id}", "keys": {"p256dh": b64url(public), "auth": b64url(auth)}})

    async def unsubscribe(request: web.Request) -> web.Response:
        sub = subscriptions.get(request.match_info["sub_id"])
        if sub is None:
            return web.json_response({"code": 404, "errno": 102, "error": "Not Found"}, status=404)
        sub["gone"] = True
        return web.json_response({"ok": True})

    async def push(request: web.Request) -> web.Response:
        sub_id = request.match_info["sub_id"]
        body = await request.read()
        entry = fake.record(kind="push", subscription=sub_id, ttl=request.headers.get("TTL"),
                            urgency=request.headers.get("Urgency"), content_encoding=request.headers.get("Content-Encoding"),
                            authorization=request.headers.get("Authorization", ""), size=len(body))
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        problem = check_vapid(request.headers.get("Authorization", ""), f"{request.scheme}://{request.host}")
        if problem:
            entry.update(answered=401, problem=problem)
            return web.json_response({"code": 401, "errno": 109, "error": "Unauthorized", "message": problem}, status=401)
        if request.headers.get("TTL") is None:
            entry["answered"] = 400
            return web.json_response({"code": 400, "errno": 111, "error": "Bad Request", "message": "Missing TTL header"}, status=400)
        sub = subscriptions.get(sub_id)
        if sub is None:
            entry["answered"] = 404
            return web.json_response({"code": 404, "errno": 102, "error": "Not Found", "message": "Subscription not found"}, status=404)
        if sub["gone"]:
            entry["answered"] = 410
            return web.json_response({"code": 410, "errno": 106, "error": "Gone", "message": "Subscription expired"}, status=410)
        if body:
            if request.headers.get("Content-Encoding") != "aes128gcm":
                entry["answered"] = 400
                return web.json_response({"code": 400, "errno": 110, "error": "Bad Request",
                                          "message": "Content-Encoding must be aes128gcm"}, status=400)
            try:
                plain = http_ece.decrypt(body, private_key=sub["private_key"], auth_secret=sub["auth"], version="aes128gcm")
                payload = json.loads(plain)
            except Exception as exc:  # noqa: BLE001 - report what a browser would fail on
                entry.update(answered=400, problem=f"undecryptable: {exc.__class__.__name__}")
                return web.json_response({"code": 400, "errno": 110, "error": "Bad Request", "message": "Payload does not decrypt"}, status=400)
            entry["payload"] = payload
            if isinstance(payload, dict) and payload.get("id"):
                entry["delivery_id"] = payload["id"]
        message_id = secrets.token_urlsafe(12)
        entry["answered"] = 201
        return web.Response(status=201, headers={"Location": f"{request.scheme}://{request.host}{PREFIX}/m/{message_id}",
                                                 "TTL": request.headers.get("TTL", "0")})

    fake.add_control_routes(app)
    app.router.add_post(f"{PREFIX}/_subscribe", subscribe)
    app.router.add_delete(PREFIX + "/{sub_id}", unsubscribe)
    app.router.add_post(PREFIX + "/{sub_id}", push)
