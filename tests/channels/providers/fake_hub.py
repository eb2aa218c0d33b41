"""Fixtures for the Meta / Telegram / web push / social adapter tests, over real HTTP.

Import the fixtures into a test module with
`from tests.channels.providers.fake_hub import hub_fixture, sink_fixture  # noqa: F401`.

`hub` points the provider base URLs at the fake provider server and wraps its control routes
(<prefix>/_received, _fault, _config). It uses the shared `fake_providers` fixture when the
fakes plugin provides one, else starts the fake routes in a background thread itself.
`sink` is a tiny HTTP server standing in for our webhook endpoint: it captures what the fakes
post back (signed status callbacks, Telegram updates) with the raw body and headers.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from channels.providers import http as provider_http

PREFIXES = {"meta": "/meta", "telegram": "/telegram", "webpush": "/push-service", "facebook": "/facebook",
            "instagram": "/instagram", "x": "/x", "linkedin": "/linkedin", "openai": "/openai"}
BASE_SETTINGS = {"WHATSAPP_API_BASE": "/meta", "TELEGRAM_API_BASE": "/telegram", "FACEBOOK_API_BASE": "/facebook",
                 "INSTAGRAM_API_BASE": "/instagram", "X_API_BASE": "/x", "LINKEDIN_API_BASE": "/linkedin",
                 "OPENAI_BASE_URL": "/openai/v1"}


def _start_local_server() -> str:
    from aiohttp import web

    from channels.fakes import meta, openai, social, telegram, webpush

    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application()
        for module in (meta, telegram, webpush, social, openai):
            module.add_routes(app, None)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True, name="fake-providers-local").start()
    ready.wait(10)
    return holder["url"]


_LOCAL_URL: str | None = None


def _server_url(request) -> str:
    global _LOCAL_URL
    try:
        shared = request.getfixturevalue("fake_providers")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        url = getattr(shared, "url", None) or getattr(shared, "base_url", None) or str(shared)
        return str(url).rstrip("/")
    if _LOCAL_URL is None:
        _LOCAL_URL = _start_local_server()
    return _LOCAL_URL


@dataclass
class Hub:
    url: str

    def _call(self, method: str, provider: str, path: str, **kwargs) -> Any:
        response = httpx.request(method, f"{self.url}{PREFIXES[provider]}/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def received(self, provider: str, **match: Any) -> list[dict[str, Any]]:
        entries = self._call("GET", provider, "_received")
        return [e for e in entries if all(e.get(k) == v for k, v in match.items())]

    def fault(self, provider: str, **fault: Any) -> None:
        self._call("POST", provider, "_fault", json=fault)

    def configure(self, provider: str, **config: Any) -> dict[str, Any]:
        return self._call("POST", provider, "_config", json=config)

    def simulate(self, provider: str, path: str, **body: Any) -> dict[str, Any]:
        return self._call("POST", provider, path, json=body)

    def reset(self) -> None:
        for provider in PREFIXES:
            self._call("DELETE", provider, "_received")

    @property
    def sample_image(self) -> str:
        return f"{self.url}/social-media/sample.png"


@pytest.fixture(name="hub")
def hub_fixture(request, settings) -> Hub:
    url = _server_url(request)
    for name, prefix in BASE_SETTINGS.items():
        setattr(settings, name, url + prefix)
    hub = Hub(url)
    hub.reset()
    yield hub
    hub.reset()


@dataclass
class Sink:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)


@pytest.fixture(name="sink")
def sink_fixture():
    captured: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            captured.append({"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Sink(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/test/", requests=captured)
    server.shutdown()
    server.server_close()


@pytest.fixture(name="short_timeouts")
def short_timeouts_fixture(monkeypatch):
    """Make the pooled client time out after half a second (for the timeout tests)."""
    import httpx as _httpx

    provider_http.reset_clients()
    monkeypatch.setattr(provider_http, "TIMEOUT", _httpx.Timeout(0.5, connect=0.5))
    yield
    provider_http.reset_clients()
