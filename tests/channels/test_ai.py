"""chat_complete over the openai SDK, against the fake OpenAI API over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from channels import ai
from channels.base import ProviderError
from channels.providers import http as provider_http

KEY = "sk-test-fake-key"
MODEL = "gpt-4o-mini"


@pytest.fixture
def openai_fake(fake_providers, settings):
    settings.OPENAI_BASE_URL = fake_providers.url + "/openai/v1"
    base = fake_providers.url + "/openai"
    httpx.delete(base + "/_received", timeout=5)
    yield base
    httpx.delete(base + "/_received", timeout=5)
    provider_http.reset_clients()


def ask(text: str, **kwargs) -> str:
    return ai.chat_complete(messages=[{"role": "system", "content": "You write marketing copy."},
                                      {"role": "user", "content": text}],
                            model=kwargs.pop("model", MODEL), api_key=kwargs.pop("api_key", KEY), **kwargs)


def test_it_returns_the_requested_number_of_variants_in_different_tones(openai_fake):
    answer = ask("Write 3 variants of this SMS.\nText: Sale ends Friday", temperature=0.2)

    lines = answer.splitlines()
    assert len(lines) == 3
    assert lines[0] == "1. [Friendly] Hi there! Sale ends Friday 😊"
    assert lines[1].startswith("2. [Urgent] ") and lines[2].startswith("3. [Playful] ")
    assert all("Sale ends Friday" in line for line in lines)


def test_the_fake_records_the_prompt_model_and_temperature(openai_fake, fake_providers):
    ask("Rewrite: Hello", temperature=0.3)

    [entry] = httpx.get(fake_providers.url + "/_fake/messages?provider=openai", timeout=5).json()
    assert entry["kind"] == "chat" and entry["answered"] == 200
    assert entry["body"]["model"] == MODEL and entry["body"]["temperature"] == 0.3
    assert entry["body"]["messages"][-1] == {"role": "user", "content": "Rewrite: Hello"}


def test_the_fake_answers_in_openais_response_shape(openai_fake):
    response = httpx.post(openai_fake + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                          json={"model": MODEL, "n": 2, "messages": [{"role": "user", "content": "Text: Hi"}]}, timeout=5)

    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["model"] == MODEL
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "[Friendly] Hi there! Hi 😊", "refusal": None}
    assert body["choices"][1]["message"]["content"].startswith("[Urgent]")
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_a_429_with_retry_after_is_transient_and_carries_the_wait(openai_fake):
    httpx.post(openai_fake + "/_fault", json={"status": 429, "retry_after": 7}, timeout=5)

    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi")

    assert not caught.value.permanent
    assert caught.value.retry_after == 7
    assert caught.value.code == "rate_limit_exceeded"


def test_a_429_for_an_exhausted_quota_is_permanent(openai_fake):
    httpx.post(openai_fake + "/_fault", json={"status": 429, "code": "insufficient_quota"}, timeout=5)

    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi")

    assert caught.value.permanent and caught.value.code == "insufficient_quota"
    assert "quota" in caught.value.message


def test_a_server_error_is_transient(openai_fake):
    httpx.post(openai_fake + "/_fault", json={"status": 503}, timeout=5)

    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi")

    assert not caught.value.permanent


@pytest.mark.parametrize("key", ["sk-invalid-key", "not-an-openai-key"])
def test_a_wrong_api_key_is_permanent_with_openais_message(openai_fake, key):
    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi", api_key=key)

    assert caught.value.permanent
    assert caught.value.code == "invalid_api_key"
    assert "Incorrect API key provided" in caught.value.message
    assert key not in caught.value.message  # OpenAI masks the key; so must we


def test_a_missing_api_key_is_refused_before_any_call(openai_fake, fake_providers):
    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi", api_key="")

    assert caught.value.permanent and "API key is missing" in caught.value.message
    assert httpx.get(fake_providers.url + "/_fake/messages?provider=openai", timeout=5).json() == []


def test_an_unknown_model_is_permanent(openai_fake):
    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi", model="gpt-nonexistent")

    assert caught.value.permanent and caught.value.code == "model_not_found"


def test_a_provider_that_does_not_answer_in_time_is_transient(openai_fake, fake_providers):
    httpx.post(openai_fake + "/_fault", json={"status": 0, "delay": 2, "count": 3}, timeout=5)

    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi", timeout=0.5)

    assert not caught.value.permanent and caught.value.code == "timeout"
    # One attempt: the SDK's own retries are off, so the caller's backoff decides.
    calls = httpx.get(fake_providers.url + "/_fake/messages?provider=openai", timeout=5).json()
    assert len(calls) == 1


def test_the_base_url_is_read_at_call_time(openai_fake, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port

    with pytest.raises(ProviderError) as caught:
        ask("Text: Hi")

    assert not caught.value.permanent and caught.value.code == "connection"
