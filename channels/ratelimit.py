"""A rate limiter shared by every worker on every machine: a token bucket in Redis (one Lua script).

Each bucket holds at most `burst` tokens and refills at `rate_per_second`. The delivery engine
takes tokens for a whole batch at once (one round trip per batch, not per message):

    grant = acquire([Rule(config_key(config.pk), config.rate_per_second, config.burst)], tokens=len(batch))
    send grant.granted messages now; put the rest back and retry after grant.retry_after seconds

Buckets are refilled lazily from Redis's own clock (TIME inside the script), so workers whose
clocks disagree still share one correct bucket. Several rules can be checked at once, all or
nothing, for per-recipient limits on top of the channel's own rate (Telegram: 30 msg/s per bot,
1 msg/s per chat, 20 msg/min per group; see recipient_rules()). Keys of one config share a Redis
Cluster hash slot through the {config_id} hash tag.

Without REDIS_URL (the single-machine development mode) the same buckets live in small JSON
files under VAR_DIR/ratelimit, updated under an exclusive flock: shared by every process on that
machine, correct there, and not meant for more than one machine. A Redis outage raises
redis.exceptions.ConnectionError: the caller treats it as transient and retries; it never falls
back to "unlimited".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

__all__ = [
    "Grant",
    "Rule",
    "acquire",
    "acquire_blocking",
    "config_key",
    "recipient_key",
    "recipient_rules",
    "reset",
]


@dataclass(frozen=True)
class Rule:
    key: str
    rate_per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.burst < 1:
            raise ValueError(f"Invalid rate limit for {self.key}: rate must be > 0 and burst >= 1")


@dataclass(frozen=True)
class Grant:
    granted: int  # tokens taken now (0 .. tokens asked for)
    retry_after: float  # seconds until at least one more token is available; 0 when all were granted

    @property
    def complete(self) -> bool:
        return self.retry_after == 0


def config_key(config_id) -> str:
    return f"rl:{{{config_id}}}"


def recipient_key(config_id, recipient: str) -> str:
    return f"rl:{{{config_id}}}:to:{recipient}"


def recipient_rules(adapter_cls, config_id, recipient: str) -> list[Rule]:
    """Per-recipient limits a provider publishes, as extra rules for one message.

    An adapter may define `recipient_rate_limits(to) -> [(suffix, rate_per_second, burst)]`;
    otherwise its PER_CHAT_RATE_PER_SECOND / PER_GROUP_PER_MINUTE constants are used, where group
    chats are the negative ids (Telegram's convention).
    """
    custom = getattr(adapter_cls, "recipient_rate_limits", None)
    if callable(custom):
        return [Rule(f"{recipient_key(config_id, recipient)}:{suffix}", rate, burst)
                for suffix, rate, burst in custom(recipient)]
    to = recipient.strip()
    per_group_minute = getattr(adapter_cls, "PER_GROUP_PER_MINUTE", None)
    per_chat_second = getattr(adapter_cls, "PER_CHAT_RATE_PER_SECOND", None)
    if to.startswith("-") and per_group_minute:
        # Burst 1 and (n - 1)/60 per second: never more than n in any 60-second window.
        return [Rule(recipient_key(config_id, to), max(per_group_minute - 1, 1) / 60.0, 1)]
    if per_chat_second:
        return [Rule(recipient_key(config_id, to), float(per_chat_second), 1)]
    return []


def acquire(rules: Sequence[Rule] | Rule, tokens: int = 1) -> Grant:
    """Take up to `tokens` from every bucket in `rules` (the same number from each, atomically)."""
    if isinstance(rules, Rule):
        rules = [rules]
    if tokens < 1 or not rules:
        return Grant(max(tokens, 0), 0.0)
    if _redis_url():
        return _redis_acquire(list(rules), tokens)
    return _file_acquire(list(rules), tokens)


def acquire_blocking(rules: Sequence[Rule] | Rule, tokens: int = 1, *, timeout: float | None = None) -> int:
    """Wait (sleeping, not spinning) until `tokens` were granted or the timeout passed; return how many."""
    deadline = None if timeout is None else time.monotonic() + timeout
    got = 0
    while got < tokens:
        grant = acquire(rules, tokens - got)
        got += grant.granted
        if got >= tokens:
            break
        pause = max(grant.retry_after, 0.001)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pause = min(pause, remaining)
        time.sleep(pause)
    return got


def reset(key: str) -> None:
    """Forget a bucket (it starts full again): after a config's rate changes, and in tests."""
    if _redis_url():
        _redis().delete(key)
    else:
        _file_path(key).unlink(missing_ok=True)


def _redis_url() -> str | None:
    return getattr(settings, "REDIS_URL", None)


# --- Redis ------------------------------------------------------------------------------------

# KEYS: the buckets. ARGV[1]: tokens wanted; then rate, burst for each key.
# Returns {granted, wait-as-string} (Lua numbers would be truncated to integers in the reply).
_LUA = """
local want = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local granted = want
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
    ts = now
  end
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(burst, tokens + elapsed * rate)
  levels[i] = tokens
  local whole = math.floor(tokens)
  if whole < granted then granted = whole end
end
if granted < 0 then granted = 0 end
local wait = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local left = levels[i] - granted
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.6f', left), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
  if granted < want and left < 1 then
    local w = (1 - left) / rate
    if w > wait then wait = w end
  end
end
return {granted, string.format('%.6f', wait)}
"""

_lock = threading.Lock()
_clients: dict[tuple[int, str], object] = {}


def _redis():
    import redis

    url = _redis_url()
    key = (os.getpid(), url)  # never share a connection pool across a fork
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
            client._token_bucket = client.register_script(_LUA)  # type: ignore[attr-defined]
            _clients[key] = client
    return client


def _redis_acquire(rules: list[Rule], tokens: int) -> Grant:
    client = _redis()
    args: list[object] = [tokens]
    for rule in rules:
        args += [repr(float(rule.rate_per_second)), repr(float(rule.burst))]
    granted, wait = client._token_bucket(keys=[r.key for r in rules], args=args)  # type: ignore[attr-defined]
    return Grant(int(granted), float(wait))


# --- single-machine fallback: JSON files under an exclusive lock -----------------------------


def _file_dir() -> Path:
    path = Path(settings.VAR_DIR) / "ratelimit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file_path(key: str) -> Path:
    return _file_dir() / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def _file_acquire(rules: list[Rule], tokens: int) -> Grant:
    # Lock files in a fixed order so two processes taking overlapping rule sets never deadlock.
    ordered = sorted(rules, key=lambda r: r.key)
    handles = []
    try:
        for rule in ordered:
            handle = open(_file_path(rule.key), "a+", encoding="utf-8")  # noqa: SIM115 - closed below
            handles.append(handle)
            fcntl.flock(handle, fcntl.LOCK_EX)
        now = time.time()
        levels = []
        granted = tokens
        for rule, handle in zip(ordered, handles, strict=True):
            handle.seek(0)
            raw = handle.read()
            try:
                state = json.loads(raw) if raw else None
            except ValueError:
                state = None
            if not state:
                level, ts = float(rule.burst), now
            else:
                level, ts = float(state["tokens"]), float(state["ts"])
            level = min(float(rule.burst), level + max(0.0, now - ts) * rule.rate_per_second)
            levels.append(level)
            granted = min(granted, math.floor(level))
        granted = max(granted, 0)
        wait = 0.0
        for rule, handle, level in zip(ordered, handles, levels, strict=True):
            left = level - granted
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"tokens": left, "ts": now}))
            handle.flush()
            if granted < tokens and left < 1:
                wait = max(wait, (1 - left) / rule.rate_per_second)
        return Grant(granted, wait)
    finally:
        for handle in handles:
            handle.close()  # closing releases the flock
