"""The fake provider server for every suite that talks to providers over real HTTP.

- `fake_providers` (session): channels.fakes.server on a free port, started once.
- `fakes`: points TWILIO_API_BASE / SENDGRID_API_HOST at it, resets what it recorded before and
  after the test, and wraps its control routes (received, fault, configure, simulate).
Registered for the whole suite in tests/conftest.py (pytest_plugins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="session")
def fake_providers():
    """The fake provider server (channels.fakes.server) on a free port, once per test session."""
    from channels.fakes.server import start_in_thread

    server = start_in_thread()
    yield server
    server.stop()


PREFIXES = {"twilio": "/twilio", "sendgrid": "/sendgrid", "meta": "/meta"}


@dataclass
class Fakes:
    url: str

    def _call(self, method: str, provider: str, path: str, **kwargs) -> Any:
        response = httpx.request(method, f"{self.url}{PREFIXES[provider]}/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def received(self, provider: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self._call("GET", provider, "_received") if all(e.get(k) == v for k, v in match.items())]

    def fault(self, provider: str, **fault: Any) -> None:
        self._call("POST", provider, "_fault", json=fault)

    def configure(self, provider: str, **config: Any) -> dict[str, Any]:
        return self._call("POST", provider, "_config", json=config)

    def simulate(self, provider: str, path: str, **body: Any) -> dict[str, Any]:
        return self._call("POST", provider, path, json=body)

    def get(self, provider: str, path: str) -> Any:
        return self._call("GET", provider, path)

    def reset(self) -> None:
        for prefix in PREFIXES.values():
            httpx.delete(f"{self.url}{prefix}/_received", timeout=10)


@pytest.fixture
def fakes(fake_providers, settings) -> Fakes:
    settings.TWILIO_API_BASE = fake_providers.url + "/twilio"
    settings.SENDGRID_API_HOST = fake_providers.url + "/sendgrid"
    settings.WHATSAPP_API_BASE = fake_providers.url + "/meta"
    hub = Fakes(fake_providers.url)
    hub.reset()
    yield hub
    hub.reset()
