"""Measure the fake provider server: it must not be the bottleneck of a delivery benchmark.

    python manage.py bench_fakeproviders --endpoint telegram --concurrency 64 --seconds 5

Starts the fake server in its own process (as `fakeproviders` runs it), then hammers one cheap
endpoint from this process with an aiohttp client (keep-alive, `--concurrency` requests in
flight) and prints requests per second. With --url it hammers a server that is already running.
Every request is a real API call: parsed, recorded, answered in the provider's shape.

The load comes from wrk (Debian's package, a C client: `apt-get install wrk`) when it is on the PATH,
else from an aiohttp client in this process, which is itself CPU-bound near 3,000 requests/s and
so measures the client more than the server (--client aiohttp forces it). The server runs on
uvloop, as `fakeproviders` does.

Client and server share the machine's cores, so the wall-clock rate also measures the client and
whatever else is running. The server's own CPU time per request (read from /proc on Linux) is the
figure that does not depend on that: 1 / (CPU seconds per request) is what one core can serve.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.benchmarks import BenchResult, results_of

# name -> (path, headers, body); each is a send the adapters make, with valid credentials.
ENDPOINTS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "telegram": ("/telegram/bot1000:bench-token/sendMessage", {},
                 {"chat_id": 5550001, "text": "Benchmark message"}),
    "sendgrid": ("/sendgrid/v3/mail/send", {"Authorization": "Bearer SG.bench"},
                 {"from": {"email": "news@example.com"}, "subject": "Benchmark",
                  "content": [{"type": "text/plain", "value": "Benchmark message"}],
                  "personalizations": [{"to": [{"email": "someone@example.com"}]}]}),
    "meta": ("/meta/v21.0/1000000001/messages", {"Authorization": "Bearer bench-token"},
             {"messaging_product": "whatsapp", "to": "+15550001234", "type": "text", "text": {"body": "Benchmark"}}),
}
TARGET = 5000  # requests/s the issue asks of the fake server on loopback


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a running process (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(host: str, ready) -> None:
    """Child process: serve every fake on a free port and report it."""
    from aiohttp import web

    from channels.fakes.server import build_app, new_event_loop

    async def main() -> None:
        runner = web.AppRunner(build_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        ready.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    new_event_loop().run_until_complete(main())


async def _hammer(url: str, headers: dict[str, str], body: bytes, concurrency: int, seconds: float) -> tuple[int, Counter, float]:
    from aiohttp import ClientSession, ClientTimeout, TCPConnector

    statuses: Counter = Counter()
    connector = TCPConnector(limit=concurrency)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=30),
                             headers={"Content-Type": "application/json", **headers}) as session:
        async def one() -> None:
            async with session.post(url, data=body) as response:
                await response.read()

        # Warm the pool so connection set-up is not counted.
        await asyncio.gather(*(one() for _ in range(concurrency)))
        started = time.perf_counter()
        stop_at = started + seconds

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                async with session.post(url, data=body) as response:
                    await response.read()
                    statuses[response.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return sum(statuses.values()), statuses, elapsed


def _wrk(url: str, headers: dict[str, str], body: bytes, concurrency: int, seconds: float) -> tuple[int, Counter, float]:
    """Hammer with wrk (POST through a small Lua script); non-2xx answers are counted apart."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write("\n".join(lines) + "\n")
        script.flush()
        threads = max(1, min(2, concurrency))
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
                              "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> tuple[int, Counter, float]:
    """(requests, {"2xx": n, "non-2xx": m}, seconds) from wrk's report."""
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    total = int(found.group(1))
    elapsed = float(found.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[found.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    statuses = Counter({"2xx": total - int(bad.group(1)) if bad else total})
    if bad:
        statuses["non-2xx"] = int(bad.group(1))
    return total, statuses, elapsed


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # like fakeproviders: no database needed
    help = "Benchmark the fake provider server (requests/s on one cheap endpoint)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="telegram")
        parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--url", default="", help="hammer this running server instead of starting one")
        parser.add_argument("--client", choices=["auto", "wrk", "aiohttp"], default="auto",
                            help="load generator (auto: wrk when installed)")

    def handle(self, *args, **options) -> None:
        if options["concurrency"] < 1 or options["seconds"] <= 0:
            raise CommandError("--concurrency and --seconds must be positive")
        path, headers, payload = ENDPOINTS[options["endpoint"]]
        client = options["client"]
        if client == "auto":
            client = "wrk" if shutil.which("wrk") else "aiohttp"
        if client == "wrk" and not shutil.which("wrk"):
            raise CommandError("wrk is not installed (apt-get install wrk)")
        server = None
        base = options["url"].rstrip("/")
        if not base:
            ctx = multiprocessing.get_context("fork")
            ready = ctx.Queue()
            server = ctx.Process(target=_serve, args=(options["host"], ready), daemon=True)
            server.start()
            try:
                port = ready.get(timeout=30)
            except queue.Empty as exc:
                server.terminate()
                raise CommandError("The fake provider server did not start") from exc
            base = f"http://{options['host']}:{port}"
        try:
            self.stdout.write(f"POST {base}{path}: {client}, concurrency {options['concurrency']}, "
                              f"{options['seconds']:g} s")
            body = json.dumps(payload).encode()
            if client == "wrk":
                _wrk(base + path, headers, body, options["concurrency"], 1)  # warm-up, not counted
            cpu_before = _cpu_seconds(server.pid) if server is not None else None
            if client == "wrk":
                total, statuses, elapsed = _wrk(base + path, headers, body, options["concurrency"], options["seconds"])
            else:
                total, statuses, elapsed = asyncio.run(_hammer(
                    base + path, headers, body, options["concurrency"], options["seconds"]))
            cpu_after = _cpu_seconds(server.pid) if server is not None else None
        finally:
            if server is not None:
                server.terminate()
                server.join(10)
        rate = total / elapsed
        self.stdout.write(f"{total} requests in {elapsed:.2f} s, answers {dict(sorted(statuses.items()))}")
        if cpu_before is not None and cpu_after is not None and total and cpu_after > cpu_before:
            per_request = (cpu_after - cpu_before) / total
            self.stdout.write(f"server CPU: {per_request * 1e6:.0f} µs per request, "
                              f"{(cpu_after - cpu_before) / elapsed:.0%} of a core, "
                              f"capacity {1 / per_request:,.0f} requests/s per core")
        style = self.style.SUCCESS if rate >= TARGET else self.style.ERROR
        self.stdout.write(style(f"{rate:,.0f} requests/s ({'at least' if rate >= TARGET else 'below'} {TARGET:,})"))
        failed = sum(n for status, n in statuses.items() if str(status)[:1] not in ("2", "3"))
        results_of(self).append(BenchResult(
            f"Fake providers >= {TARGET:,} requests/s on loopback, {options['endpoint']} (issue 4)",
            f"{rate:,.0f} requests/s ({client}), {failed} failed", rate >= TARGET and not failed))
