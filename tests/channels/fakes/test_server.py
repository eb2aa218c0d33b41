"""The fakeproviders command serves every fake provider from one app."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from channels.fakes.server import MOUNTED, build_app, start_in_thread
from channels.management.commands.fakeproviders import Command

ROOT = Path(__file__).resolve().parents[3]
TWILIO_SID = "AC" + "5" * 32


@pytest.fixture(scope="module")
def server():
    running = start_in_thread(app=Command().build_app())
    yield running
    running.stop()


def test_the_app_mounts_every_fake_module():
    assert build_app()[MOUNTED] == ["meta", "openai", "sendgrid", "social", "telegram", "twilio", "webpush"]


@pytest.mark.parametrize("path", [
    "/meta/_received", "/telegram/_received", "/push-service/_received", "/facebook/_received",
    "/instagram/_received", "/x/_received", "/linkedin/_received", "/twilio/_received", "/sendgrid/_received",
    "/openai/_received",
])
def test_every_fakes_control_route_answers(server, path):
    response = httpx.get(server.url + path, timeout=5)
    assert response.status_code == 200 and isinstance(response.json(), list)


def test_the_twilio_fake_answers_an_account_lookup_with_basic_auth(server):
    auth = "Basic " + base64.b64encode(f"{TWILIO_SID}:token".encode()).decode()
    response = httpx.get(f"{server.url}/twilio/2010-04-01/Accounts/{TWILIO_SID}.json", headers={"Authorization": auth},
                         timeout=5)
    assert response.status_code == 200 and response.json()["sid"] == TWILIO_SID
    unauthenticated = httpx.get(f"{server.url}/twilio/2010-04-01/Accounts/{TWILIO_SID}.json", timeout=5)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == 20003


def test_the_sendgrid_fake_accepts_mail_and_publishes_its_event_key(server):
    body = {"from": {"email": "a@example.com"}, "subject": "Hi", "content": [{"type": "text/plain", "value": "x"}],
            "personalizations": [{"to": [{"email": "b@example.com"}]}]}
    response = httpx.post(f"{server.url}/sendgrid/v3/mail/send", json=body,
                          headers={"Authorization": "Bearer SG.key"}, timeout=5)
    assert response.status_code == 202 and response.headers["X-Message-Id"]
    assert httpx.get(f"{server.url}/sendgrid/public-key", timeout=5).json()["public_key"]


def _telegram(server, text: str = "hi") -> httpx.Response:
    return httpx.post(f"{server.url}/telegram/bot123:abc/sendMessage", json={"chat_id": 42, "text": text}, timeout=5)


def test_fake_messages_lists_what_every_fake_received_and_delete_resets_them_all(server):
    httpx.delete(f"{server.url}/_fake/messages", timeout=5)
    _telegram(server, "first")
    test_the_sendgrid_fake_accepts_mail_and_publishes_its_event_key(server)

    everything = httpx.get(f"{server.url}/_fake/messages", timeout=5).json()
    assert [e["provider"] for e in everything] == ["telegram", "sendgrid"]
    assert everything[0]["params"]["text"] == "first" and everything[0]["answered"] == 200
    only_sendgrid = httpx.get(f"{server.url}/_fake/messages", params={"provider": "sendgrid"}, timeout=5).json()
    assert [e["kind"] for e in only_sendgrid] == ["mail"]
    assert len(httpx.get(f"{server.url}/_fake/messages", params={"limit": 1}, timeout=5).json()) == 1

    httpx.delete(f"{server.url}/_fake/messages", timeout=5)
    assert httpx.get(f"{server.url}/_fake/messages", timeout=5).json() == []
    assert httpx.get(f"{server.url}/telegram/_received", timeout=5).json() == []


def test_a_standing_error_rate_fails_that_share_of_calls_until_reset(server):
    httpx.post(f"{server.url}/telegram/_config", json={"error_rate": 1.0, "error_status": 429,
                                                       "error_retry_after": 4}, timeout=5)
    try:
        refused = [_telegram(server) for _ in range(3)]
        assert [r.status_code for r in refused] == [429, 429, 429]
        assert refused[0].json()["parameters"]["retry_after"] == 4 and refused[0].headers["Retry-After"] == "4"
    finally:
        httpx.delete(f"{server.url}/telegram/_received", timeout=5)
    assert _telegram(server).status_code == 200


def test_a_standing_latency_slows_every_call(server):
    httpx.post(f"{server.url}/telegram/_config", json={"latency": 0.3}, timeout=5)
    try:
        started = time.monotonic()
        assert _telegram(server).status_code == 200
        assert time.monotonic() - started >= 0.3
    finally:
        httpx.delete(f"{server.url}/telegram/_received", timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_manage_py_fakeproviders_serves_on_the_given_host_and_port():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "manage.py", "fakeproviders", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"fakeproviders did not start: {process.stdout.read().decode() if process.poll() is not None else ''}")
                time.sleep(0.2)
        assert response.json()["fakes"] == ["meta", "openai", "sendgrid", "social", "telegram", "twilio", "webpush"]
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["telegram", "sendgrid", "meta"])
def test_bench_fakeproviders_hammers_a_real_api_route_and_reports_the_rate(endpoint):
    out = StringIO()
    # The aiohttp client reports each status code (wrk only 2xx / non-2xx; see test_wrk_report_...).
    call_command("bench_fakeproviders", endpoint=endpoint, seconds=0.5, concurrency=4, client="aiohttp", stdout=out)

    report = out.getvalue()
    expected = {"telegram": "{200: ", "sendgrid": "{202: ", "meta": "{200: "}[endpoint]
    assert f"answers {expected}" in report  # every request was accepted, none failed
    assert "requests/s" in report and "server CPU:" in report


WRK_REPORT = """Running 5s test @ http://127.0.0.1:38695/telegram/bot1000:bench-token/sendMessage
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.01ms    2.10ms  40.12ms   90.00%
    Req/Sec     4.60k   300.00     5.10k    70.00%
  46449 requests in 5.07s, 9.10MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   9161.73
Transfer/sec:      1.79MB
"""


def test_wrk_report_is_read_with_its_failures_counted_apart():
    from channels.management.commands.bench_fakeproviders import parse_wrk

    total, statuses, elapsed = parse_wrk(WRK_REPORT)
    assert (total, elapsed) == (46449, 5.07)
    assert statuses == {"2xx": 46437, "non-2xx": 12}  # a failing fake must not pass for throughput
