"""One aiohttp app serving every fake provider: each module in channels/fakes with add_routes().

`python manage.py fakeproviders` serves it; tests start it in a background thread
(start_in_thread). Point the provider base URLs at it, e.g. TWILIO_API_BASE=<url>/twilio,
SENDGRID_API_HOST=<url>/sendgrid, WHATSAPP_API_BASE=<url>/meta, TELEGRAM_API_BASE=<url>/telegram,
OPENAI_BASE_URL=<url>/openai/v1.

Across every fake:
  GET    /_fake/messages   what all fakes received, oldest first: [{"provider": ..., "kind": ..., ...}];
                           ?provider=telegram keeps one fake's, ?limit=100 the newest 100
  DELETE /_fake/messages   reset every fake (received, queued faults, config)
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import threading
from collections import deque
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from aiohttp import web

import channels.fakes as fakes_package
from channels.fakes._kit import MAX_RECEIVED, ProviderFake

logger = logging.getLogger(__name__)

STATE = web.AppKey("state", object)
MOUNTED = web.AppKey("mounted", list)


@dataclass
class FakeState:
    """Shared by every fake in one server: everything they received, in arrival order."""

    # Bounded: a long-running dev server or a benchmark must not grow without limit.
    log: deque[tuple[str, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=MAX_RECEIVED))
    fakes: list[ProviderFake] = field(default_factory=list)  # each ProviderFake adds itself

    def record(self, provider: str, entry: dict[str, Any]) -> None:
        self.log.append((provider, entry))

    def forget(self, provider: str) -> None:
        kept = [item for item in self.log if item[0] != provider]
        self.log.clear()
        self.log.extend(kept)

    def reset(self) -> None:
        self.log.clear()
        for fake in self.fakes:
            fake.reset()


def fake_modules() -> list[ModuleType]:
    modules = []
    for info in sorted(pkgutil.iter_modules(fakes_package.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "server":
            continue
        module = importlib.import_module(f"{fakes_package.__name__}.{info.name}")
        if callable(getattr(module, "add_routes", None)):
            modules.append(module)
    return modules


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed (fewer CPU microseconds per request), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def build_app(state: FakeState | None = None) -> web.Application:
    state = state or FakeState()
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app[STATE] = state
    mounted = []
    for module in fake_modules():
        module.add_routes(app, state)
        mounted.append(module.__name__.rsplit(".", 1)[-1])
    app[MOUNTED] = mounted

    async def index(request: web.Request) -> web.Response:
        return web.json_response({"fakes": mounted, "received": len(state.log)})

    async def messages(request: web.Request) -> web.Response:
        provider = request.query.get("provider", "")
        entries = [{**entry, "provider": name} for name, entry in state.log if not provider or name == provider]
        try:
            limit = int(request.query.get("limit", 0))
        except ValueError:
            return web.json_response({"error": "limit must be a number"}, status=400)
        return web.json_response(entries[-limit:] if limit > 0 else entries)

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return web.json_response({"ok": True})

    app.router.add_get("/", index)
    app.router.add_get("/_fake/messages", messages)
    app.router.add_delete("/_fake/messages", reset)
    return app


@dataclass
class RunningServer:
    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def start_in_thread(host: str = "127.0.0.1", port: int = 0, app: web.Application | None = None) -> RunningServer:
    """Serve the fakes from a daemon thread; returns once the port is bound."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            application = app or build_app()
            runner = web.AppRunner(application, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            loop.run_until_complete(site.start())
            bound = site._server.sockets[0].getsockname()[1]
            holder["server"] = RunningServer(url=f"http://{host}:{bound}", app=application, loop=loop, runner=runner)
        except Exception as exc:  # noqa: BLE001 - reported to the caller below
            holder["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True, name="fake-providers").start()
    if not ready.wait(15):
        raise RuntimeError("The fake provider server did not start within 15 s")
    if "error" in holder:
        raise holder["error"]
    return holder["server"]
