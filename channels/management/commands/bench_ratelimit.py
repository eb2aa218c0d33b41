"""Measure the shared rate limiter: N sender processes hammer one bucket for S seconds.

    python manage.py bench_ratelimit --rate 100 --senders 4 --seconds 60

Each sender takes tokens in batches (as the delivery engine does) and sleeps for the returned
retry_after when the bucket is empty. The achieved rate counts every token granted, including the
bucket's initial burst; the steady-state rate leaves out the first second.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels import ratelimit
from config.benchmarks import BenchResult, results_of


def _sender(key: str, rate: float, burst: float, batch: int, start_at: float, stop_at: float, results) -> None:
    rule = ratelimit.Rule(key, rate, burst)
    granted_total = 0
    after_first_second = 0
    calls = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while True:
        now = time.time()
        if now >= stop_at:
            break
        grant = ratelimit.acquire(rule, batch)
        calls += 1
        granted_total += grant.granted
        if now >= start_at + 1.0:
            after_first_second += grant.granted
        if grant.granted < batch:
            time.sleep(min(max(grant.retry_after, 0.0005), max(stop_at - time.time(), 0)))
    results.put((granted_total, after_first_second, calls))


class Command(BaseCommand):
    help = "Benchmark the shared Redis rate limiter with concurrent sender processes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rate", type=float, default=100.0, help="configured messages per second")
        parser.add_argument("--burst", type=float, default=None, help="bucket size (default: one second's worth)")
        parser.add_argument("--senders", type=int, default=4, help="concurrent sender processes")
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--batch", type=int, default=10, help="tokens asked for per call")

    def handle(self, *args, **options) -> None:
        rate, seconds, senders = options["rate"], options["seconds"], options["senders"]
        burst = options["burst"] or max(1.0, float(int(rate)))
        if seconds <= 1:
            raise CommandError("--seconds must be more than 1")
        backend = "Redis " + settings.REDIS_URL if settings.REDIS_URL else "file locks (no REDIS_URL)"
        key = ratelimit.config_key(f"bench-{uuid.uuid4()}")
        ratelimit.reset(key)
        self.stdout.write(f"{senders} senders, {seconds:g} s, rate {rate:g}/s, burst {burst:g}, "
                          f"batch {options['batch']}, backend: {backend}")

        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        start_at = time.time() + 0.5
        stop_at = start_at + seconds
        procs = [
            ctx.Process(target=_sender, args=(key, rate, burst, options["batch"], start_at, stop_at, results))
            for _ in range(senders)
        ]
        for proc in procs:
            proc.start()
        totals = [results.get(timeout=seconds + 30) for _ in procs]
        for proc in procs:
            proc.join()
        ratelimit.reset(key)

        granted = sum(t[0] for t in totals)
        steady = sum(t[1] for t in totals)
        calls = sum(t[2] for t in totals)
        achieved = granted / seconds
        steady_rate = steady / (seconds - 1.0)
        deviation = (achieved - rate) / rate * 100
        steady_deviation = (steady_rate - rate) / rate * 100
        per_sender = ", ".join(str(t[0]) for t in totals)
        self.stdout.write(f"granted {granted} tokens in {calls} calls (per sender: {per_sender})")
        self.stdout.write(f"achieved rate: {achieved:.2f}/s  deviation {deviation:+.2f}% (incl. initial burst of {burst:g})")
        self.stdout.write(f"steady state : {steady_rate:.2f}/s  deviation {steady_deviation:+.2f}% (after the first second)")
        verdict = "within" if abs(deviation) <= 5 else "OUTSIDE"
        style = self.style.SUCCESS if verdict == "within" else self.style.ERROR
        self.stdout.write(style(f"{verdict} 5% of the configured rate"))
        results_of(self).append(BenchResult(
            f"Rate limiter within 5% of {rate:g}/s over {seconds:g} s, {senders} senders (issue 4)",
            f"{achieved:.2f}/s ({deviation:+.2f}%), steady {steady_rate:.2f}/s", verdict == "within"))
