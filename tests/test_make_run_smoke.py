"""Starts the app the way `make run` does (SQLite, server-less Celery transport, honcho running
web + worker + beat) and checks that a demo login reaches the dashboard and Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_make_run_serves_the_login_page_and_the_demo_dashboard(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    port = free_port()
    env.update(VAR_DIR=str(tmp_path / "var"), WEB_PORT=str(port), PYTHONUNBUFFERED="1")
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert "acme-admin" in done.stdout

    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/honcho"), "-f", "Procfile.dev", "start"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def login_page():
            try:
                r = httpx.get(f"{base}/accounts/login/", timeout=2)
                return r if r.status_code == 200 else None
            except httpx.HTTPError:
                return None

        page = wait_for(login_page, 60, "the login page")
        assert "Log in" in page.text
        wait_for(lambda: re.search(r"celery@\S+ ready", log.read_text()), 60, "the Celery worker")
        wait_for(lambda: "beat: Starting" in log.read_text(), 60, "Celery beat")

        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as client:
            form = client.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
            dashboard = client.post(
                "/accounts/login/",
                data={"username": "acme-admin", "password": "demo-pass-2026", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/accounts/login/"},
            )
        assert dashboard.status_code == 200
        assert str(dashboard.url).endswith("/t/acme/")
        assert "Acme Retail" in dashboard.text
        assert "database is locked" not in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("Ctrl-C did not stop web, worker and beat within 30 s") from None
    survivors = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert survivors == [], "processes left running after Ctrl-C"
