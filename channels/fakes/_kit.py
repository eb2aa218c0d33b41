"""Bits the meta / telegram / webpush / social fakes share: what each fake received, queued
faults answered in the provider's own error shape, per-fake settings, and outgoing callbacks.

Every fake module gets the same control routes under its prefix:
  GET    <prefix>/_received   what the fake received (JSON list, oldest first)
  DELETE <prefix>/_received   forget it and any queued faults, and restore the default config
  POST   <prefix>/_fault      {"status": 429, "count": 1, "retry_after": 3, "code": ..., "message": ...,
                               "delay": seconds}  the next `count` API calls fail (or stall) that way
  POST   <prefix>/_config     {"webhook_url": ..., "app_secret": ..., ...}  merged into the fake's config
  GET    <prefix>/_config     the current config
Standing faults live in the config, so they last until changed or reset:
  {"latency": 0.05}                          every API call waits that long before answering
  {"error_rate": 0.1, "error_status": 503}   that share of API calls fails (503 unless given; a 429
                                             carries "error_retry_after", default 1 s)
Each fake keeps its last MAX_RECEIVED entries, so a long benchmark or dev session stays bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

logger = logging.getLogger(__name__)

MAX_RECEIVED = 10_000


@dataclass
class Fault:
    status: int = 500
    count: int = 1
    retry_after: float | None = None
    code: str | int | None = None
    message: str = ""
    delay: float = 0.0


@dataclass
class ProviderFake:
    name: str
    prefix: str
    state: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    received: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECEIVED))
    faults: list[Fault] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)  # the config a reset restores
    _tasks: set = field(default_factory=set)

    def __post_init__(self) -> None:
        # The server's FakeState lists every fake, so /_fake/messages can reset them all.
        fakes = getattr(self.state, "fakes", None)
        if isinstance(fakes, list):
            fakes.append(self)

    def record(self, **entry: Any) -> dict[str, Any]:
        entry.setdefault("provider", self.name)
        entry.setdefault("at", time.time())
        self.received.append(entry)
        recorder = getattr(self.state, "record", None)
        if callable(recorder):
            try:
                recorder(self.name, entry)
            except TypeError:  # a FakeState with another signature: our own list still has it
                logger.debug("FakeState.record signature mismatch for %s", self.name)
        return entry

    async def take_fault(self) -> Fault | None:
        """The next queued fault (after its delay), a standing one, or None for a normal answer."""
        if not self.faults:
            return await self._standing_fault() if self.config else None
        fault = self.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.pop(0)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        return fault if fault.status else None

    async def _standing_fault(self) -> Fault | None:
        latency = float(self.config.get("latency") or 0)
        if latency:
            await asyncio.sleep(latency)
        rate = float(self.config.get("error_rate") or 0)
        if rate and random.random() < rate:
            status = int(self.config.get("error_status") or 503)
            retry_after = self.config.get("error_retry_after", 1) if status == 429 else None
            return Fault(status=status, retry_after=retry_after)
        return None

    def reset(self) -> None:
        """Forget what was received and any queued fault; restore the default config."""
        self.received.clear()
        self.faults.clear()
        self.config.clear()
        self.config.update(self.defaults)
        forget = getattr(self.state, "forget", None)
        if callable(forget):  # drop our entries from the server-wide /_fake/messages log too
            forget(self.name)

    def send_later(self, url: str, body: bytes, headers: dict[str, str], delay: float = 0.0) -> None:
        """POST a callback to the app in the background, after `delay` seconds."""

        async def deliver() -> None:
            if delay:
                await asyncio.sleep(delay)
            try:
                async with ClientSession(timeout=ClientTimeout(total=10)) as session:
                    async with session.post(url, data=body, headers=headers) as response:
                        self.record(kind="callback", url=url, status=response.status, body=json.loads(body or b"{}"))
            except Exception as exc:  # noqa: BLE001 - an app that is down must not kill the fake
                self.record(kind="callback", url=url, status=None, error=str(exc), body=json.loads(body or b"{}"))

        task = asyncio.get_running_loop().create_task(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def add_control_routes(self, app: web.Application) -> None:
        self.defaults = dict(self.config)

        async def received(request: web.Request) -> web.Response:
            return web.json_response(list(self.received))

        async def forget(request: web.Request) -> web.Response:
            self.reset()
            return web.json_response({"ok": True})

        async def fault(request: web.Request) -> web.Response:
            data = await request.json()
            known = {k: data[k] for k in ("status", "count", "retry_after", "code", "message", "delay") if k in data}
            self.faults.append(Fault(**known))
            return web.json_response({"ok": True, "queued": len(self.faults)})

        async def get_config(request: web.Request) -> web.Response:
            return web.json_response(self.config)

        async def set_config(request: web.Request) -> web.Response:
            self.config.update(await request.json())
            return web.json_response(self.config)

        app.router.add_get(f"{self.prefix}/_received", received)
        app.router.add_delete(f"{self.prefix}/_received", forget)
        app.router.add_post(f"{self.prefix}/_fault", fault)
        app.router.add_get(f"{self.prefix}/_config", get_config)
        app.router.add_post(f"{self.prefix}/_config", set_config)


def fault_response(fault: Fault, shape: Callable[[Fault], dict[str, Any]]) -> web.Response:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after) if float(fault.retry_after).is_integer() else fault.retry_after)
    return web.json_response(shape(fault), status=fault.status, headers=headers)


async def read_body(request: web.Request) -> dict[str, Any]:
    """JSON, urlencoded or multipart bodies as one dict (files as {"filename", "size", "content_type"})."""
    ctype = request.content_type
    if ctype == "application/json":
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"_body": data}
    if ctype.startswith("multipart/"):
        out: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.filename:
                content = await part.read()
                out[part.name] = {"filename": part.filename, "size": len(content),
                                  "content_type": part.headers.get("Content-Type", "")}
            else:
                out[part.name] = await part.text()
        return out
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def bearer(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""
