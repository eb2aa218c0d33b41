"""Browser walkthroughs: Playwright driving Debian's Chromium against a live server with real
Celery workers and the fake providers.

- `e2e_stack` (once for tests/e2e): a Celery worker process on the test database and broker, a
  scheduler thread standing in for beat, the app's provider settings pointed at the fake providers.
- `app`: the live server (pytest-django's, on a fresh test database) with the fakes reset and the
  scheduler ticking.
- `page`: a fresh headless Chromium (own user-data dir) logged out, with the base URL set.
- `fake`: what the fake providers received (`fake.received("twilio", kind="message")`).
- `login(page, ...)`, `htmx_settled(page)`: helpers for the walkthroughs.
When a test fails, a screenshot and the page's HTML are saved under var/e2e-artifacts/.
One walkthrough per user story, each independent: test_walkthrough_*.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.db import connection, connections

from tests.workers import CeleryProcesses, worker_database_url

# Playwright's sync API keeps an asyncio loop in this thread; the Django calls these tests make
# between page actions are ordinary synchronous ones, so Django's async-safety guard is lifted.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "e2e-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    # Under CI the browser is part of the setup (make test installs it): its absence is a failure.
    marker = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (make test installs it)")
    if os.environ.get("REQUIRE_SERVICES") == "1":
        raise pytest.UsageError(f"Chromium missing at {CHROMIUM}: the browser walkthroughs cannot run")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(marker)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page")
        if page is not None:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{item.name}.png"), full_page=True)
                (ARTIFACTS / f"{item.name}.html").write_text(page.content())
            except Exception:  # noqa: BLE001 - the page may be gone; the test failure is what matters
                pass


class Ticker(threading.Thread):
    """Beat's stand-in: the scheduler tick every second, in this process, while a test runs.

    Between tests it idles (the database is being flushed and is closed to this process)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.halt = threading.Event()
        self.active = threading.Event()
        self.busy = threading.Lock()

    def run(self) -> None:
        from django.db import connections

        from campaigns.tasks import scheduler_tick_task

        while not self.halt.wait(1.0):
            with self.busy:
                if not self.active.is_set():
                    continue
                try:
                    scheduler_tick_task()
                except Exception:  # a failed tick is retried a second later, like beat; but say so
                    logging.getLogger(__name__).exception("Scheduler tick failed")
        connections.close_all()

    def pause(self) -> None:
        """Stop ticking and wait for a tick in progress to end."""
        self.active.clear()
        with self.busy:
            pass


@dataclass
class Stack:
    """What the walkthroughs share per session: the live server, the fake providers, workers, ticker."""

    server: object
    fake_url: str
    workers: CeleryProcesses
    ticker: Ticker


@pytest.fixture(scope="package")
def e2e_stack(live_server, django_db_setup, fake_providers, tmp_path_factory):
    """One worker process and one scheduler thread for every walkthrough (starting them per test
    would cost seconds each), stopped after the last one so that they never pick up tasks of the
    suites that follow; each test still gets a fresh database (transactional_db) and fake
    providers that forgot the previous test."""
    from django.conf import settings
    from django.test import override_settings

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("browser walkthroughs need PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    from config.celery import app as celery_app

    fake = fake_providers.url
    overrides = {"TWILIO_API_BASE": f"{fake}/twilio", "SENDGRID_API_HOST": f"{fake}/sendgrid",
                 "WHATSAPP_API_BASE": f"{fake}/meta", "TELEGRAM_API_BASE": f"{fake}/telegram",
                 "OPENAI_BASE_URL": f"{fake}/openai/v1", "FACEBOOK_API_BASE": f"{fake}/facebook",
                 "INSTAGRAM_API_BASE": f"{fake}/instagram", "X_API_BASE": f"{fake}/x",
                 "LINKEDIN_API_BASE": f"{fake}/linkedin"}
    openai_key = settings.OPENAI_API_KEY or "sk-e2e-fake"
    # For the live server's views (AI variants, test sends, connection tests run in this process).
    in_process = override_settings(**overrides, SITE_URL=live_server.url, OPENAI_API_KEY=openai_key)
    in_process.enable()
    env = {**os.environ, **overrides, "SITE_URL": live_server.url, "OPENAI_API_KEY": openai_key,
           "DATABASE_URL": worker_database_url(), "REDIS_URL": settings.REDIS_URL, "LOG_LEVEL": "WARNING",
           "ENGINE_DISPATCH_ACTIVITY_TTL": "5"}
    celery_app.control.purge()
    log_dir = tmp_path_factory.mktemp("e2e-workers")
    workers = CeleryProcesses(env, log_dir, "e2e")
    workers.start_workers()
    ticker = Ticker()
    ticker.start()
    yield Stack(server=live_server, fake_url=fake, workers=workers, ticker=ticker)
    ticker.pause()
    ticker.halt.set()
    ticker.join(timeout=5)
    workers.stop()
    celery_app.control.purge()
    in_process.disable()


@pytest.fixture
def app(e2e_stack, live_server, transactional_db):
    """The live server for one walkthrough: a fresh database, fakes that remember nothing yet, the
    scheduler ticking. Yields pytest-django's live server (its .url is the base URL)."""
    from config.celery import app as celery_app

    httpx.delete(f"{e2e_stack.fake_url}/_fake/messages", timeout=10)  # every fake forgets, faults too
    e2e_stack.ticker.active.set()
    yield live_server
    e2e_stack.ticker.pause()
    celery_app.control.purge()  # what this test left queued must not run against the next one's data


@pytest.fixture
def fake(e2e_stack) -> FakeHub:
    """What the fake providers received, and their control routes, over HTTP."""
    return FakeHub(e2e_stack.fake_url)


class FakeHub:
    def __init__(self, url: str) -> None:
        self.url = url

    def received(self, prefix: str, **match) -> list[dict]:
        response = httpx.get(f"{self.url}/{prefix}/_received", timeout=10)
        response.raise_for_status()
        return [e for e in response.json() if all(e.get(k) == v for k, v in match.items())]

    def configure(self, prefix: str, **config) -> None:
        httpx.post(f"{self.url}/{prefix}/_config", json=config, timeout=10).raise_for_status()


@pytest.fixture
def page(app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    # expect() retries until this long: a loaded CI machine answers an htmx request in seconds.
    expect.set_options(timeout=10_000)
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            base_url=app.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        page = context.pages[0] if context.pages else context.new_page()
        yield page
        context.close()
        # The test body's Django connection lives in Playwright's context (its event loop makes
        # asgiref key connections by context); closed here, it can't keep the test database open.
        connections.close_all()
    shutil.rmtree(profile, ignore_errors=True)


def login(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")




def htmx_settled(page) -> None:
    """Wait until htmx has swapped and processed what it last received.

    htmx wires up the triggers of swapped-in content only after its settle delay (20 ms); a
    person never types that fast, a test does. Call it after a click that swaps in inputs
    the test is about to use."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")
