"""Real Celery processes for the suites that need them (browser walkthroughs, crash safety, fault
injection): workers and beats on the test database, each in a process group of its own so that a
kill reaches its pool children too, each logging to a file of its own under `log_dir`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def worker_database_url() -> str:
    """The DATABASE_URL of the test database pytest-django created (not the one in the environment)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.env, self.log_dir, self.name = env, log_dir, name
        self.workers: list[subprocess.Popen] = []
        self.others: list[subprocess.Popen] = []
        self.started = 0

    def _spawn(self, label: str, *args: str) -> subprocess.Popen:
        self.started += 1
        log = open(self.log_dir / f"{label}-{self.started}.log", "w")  # noqa: SIM115 - closed with the process
        level = self.env.get("LOG_LEVEL", "WARNING").lower()
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", *args, "-l", level], cwd=ROOT,
                                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_workers(self, n: int = 1, *, concurrency: int = 2) -> None:
        for _ in range(n):
            self.workers.append(self._spawn(
                "worker", "worker", "-c", str(concurrency), "-P", "prefork", "--without-gossip", "--without-mingle",
                "-n", f"{self.name}{self.started + 1}@%h"))

    def start_beat(self) -> None:
        self.others.append(self._spawn("beat", "beat", "-s", str(self.log_dir / f"beat-schedule-{self.started + 1}")))

    def kill_one_worker(self) -> None:
        """SIGKILL a random worker and its pool children: no goodbye, no acknowledgement."""
        victim = self.workers.pop(random.randrange(len(self.workers)))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (graceful), or SIGKILL at once; SIGKILL anything still there after 20 s."""
        procs = self.workers + self.others
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM if graceful else signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.workers, self.others = [], []
