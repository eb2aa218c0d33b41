"""The shared rate limiter, on the real Redis (and the file-lock fallback without Redis).

Bounds are generous but meaningful: over 2 s at 50/s with a burst of 10 the bucket can give at
most 10 + 100 = 110 tokens, and a limiter that works gives nearly all of them.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings

from channels import ratelimit
from channels.ratelimit import Rule, acquire, config_key, recipient_rules


def fresh_key() -> str:
    key = config_key(f"test-{uuid.uuid4()}")
    ratelimit.reset(key)
    return key


def hammer(rule: Rule, *, seconds: float, senders: int, batch: int) -> int:
    granted = [0] * senders
    stop_at = time.monotonic() + seconds

    def run(i: int) -> None:
        while time.monotonic() < stop_at:
            grant = acquire(rule, batch)
            granted[i] += grant.granted
            if grant.granted < batch:
                time.sleep(min(max(grant.retry_after, 0.0005), max(stop_at - time.monotonic(), 0)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(granted)


@pytest.fixture(params=["redis", "file"])
def backend(request, settings, tmp_path):
    if request.param == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("REDIS_URL is not set (CI sets it; REQUIRE_SERVICES=1 makes its absence fail)")
    else:
        settings.REDIS_URL = None
        settings.VAR_DIR = tmp_path
    return request.param


@pytest.mark.slow
def test_four_concurrent_senders_get_the_configured_rate(backend):
    rule = Rule(fresh_key(), 50, 10)
    total = hammer(rule, seconds=2.0, senders=4, batch=5)
    assert 90 <= total <= 115


def test_a_batch_gets_what_the_bucket_holds_and_learns_when_to_come_back(backend):
    rule = Rule(fresh_key(), 10, 5)
    first = acquire(rule, 8)
    assert first.granted == 5 and 0 < first.retry_after <= 0.1 + 1e-6
    empty = acquire(rule, 3)
    assert empty.granted == 0 and 0 < empty.retry_after <= 0.1 + 1e-6
    time.sleep(0.35)
    assert acquire(rule, 10).granted in (3, 4)


def test_a_whole_grant_has_no_retry_after(backend):
    grant = acquire(Rule(fresh_key(), 100, 100), 40)
    assert grant.granted == 40 and grant.retry_after == 0 and grant.complete


def test_buckets_of_different_configs_are_independent(backend):
    a, b = Rule(fresh_key(), 1, 3), Rule(fresh_key(), 1, 3)
    assert acquire(a, 3).granted == 3
    assert acquire(a, 1).granted == 0
    assert acquire(b, 3).granted == 3


def test_several_rules_are_taken_all_or_nothing(backend):
    channel = Rule(fresh_key(), 30, 30)
    chat = Rule(fresh_key(), 1, 1)
    assert acquire([channel, chat], 1).granted == 1
    denied = acquire([channel, chat], 1)
    assert denied.granted == 0 and 0.5 < denied.retry_after <= 1.0
    # The channel bucket lost nothing to the refused message: 29 of 30 are left.
    assert acquire(channel, 30).granted == 29


def test_telegram_limits_are_one_per_second_per_chat_and_twenty_per_minute_per_group():
    from channels.providers.telegram import Telegram

    [chat] = recipient_rules(Telegram, "cfg", "4242")
    [group] = recipient_rules(Telegram, "cfg", "-100123")
    assert (chat.rate_per_second, chat.burst) == (1.0, 1)
    assert group.burst + group.rate_per_second * 60 <= 20  # never more than 20 in any minute
    assert chat.key != group.key and "{cfg}" in chat.key
    assert Telegram.capabilities.default_rate_per_second == 30
    assert recipient_rules(object, "cfg", "4242") == []


def test_a_telegram_chat_gets_one_message_per_second_through_the_limiter(backend):
    from channels.providers.telegram import Telegram

    config_id = uuid.uuid4()
    rules = [Rule(config_key(config_id), 30, 30), *recipient_rules(Telegram, config_id, "4242")]
    for rule in rules:
        ratelimit.reset(rule.key)
    assert acquire(rules, 1).granted == 1
    assert acquire(rules, 1).granted == 0
    other_chat = [rules[0], *recipient_rules(Telegram, config_id, "5151")]
    assert acquire(other_chat, 1).granted == 1


def test_acquire_blocking_waits_for_the_tokens(backend):
    rule = Rule(fresh_key(), 20, 1)
    started = time.monotonic()
    assert ratelimit.acquire_blocking(rule, 5, timeout=2) == 5
    assert 0.15 <= time.monotonic() - started < 1.5  # 4 refills at 20/s = 0.2 s
    assert ratelimit.acquire_blocking(Rule(fresh_key(), 1, 1), 3, timeout=0.2) == 1
