"""Fake OpenAI chat completions, mounted under /openai: OPENAI_BASE_URL=<fake>/openai/v1.

  POST /openai/v1/chat/completions   Bearer API key: missing -> 401 (code null), not starting with
                                     "sk-" or containing "invalid" -> 401 invalid_api_key
  GET  /openai/v1/models             the model list (a cheap credentials check)
Answers in OpenAI's response shape (id, object, created, model, choices[{index, message{role,
content}, finish_reason}], usage) with content derived from the prompt, so tests can assert on it:
  - the source text is the last user message, or what follows a "Text:" line in it;
  - "<N> variants" (or versions / alternatives) anywhere in the messages asks for N numbered
    variants (at most 10), one per line: "1. [Friendly] Hi there! <text>", the tones taken in
    TONES order; without a count the answer is the single friendly variant, unnumbered;
  - n=<k> returns k choices, choice i starting its tones i places further along.
usage counts about four characters per token, like OpenAI's rule of thumb.
Faults (<prefix>/_fault) answer in OpenAI's error shape; a 429 carries retry-after and
code rate_limit_exceeded, or insufficient_quota when queued with that code.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from typing import Any

from aiohttp import web

from channels.fakes._kit import Fault, ProviderFake, bearer, fault_response

PREFIX = "/openai"
API = f"{PREFIX}/v1"
MAX_VARIANTS = 10
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")
# Each tone: (label, how the variant opens, how it ends).
TONES: tuple[tuple[str, str, str], ...] = (
    ("Friendly", "Hi there! ", " 😊"),
    ("Urgent", "Last chance: ", " Act now!"),
    ("Playful", "Psst... ", " 🎉"),
    ("Formal", "Dear customer, ", ""),
    ("Concise", "", ""),
)
_COUNT = re.compile(r"\b(\d{1,3})\s+(?:\w+\s+)?(?:variants?|versions?|alternatives?)\b", re.IGNORECASE)
_TEXT_LINE = re.compile(r"^\s*text\s*:\s*", re.IGNORECASE | re.MULTILINE)


def openai_error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers or {})


def _fault_shape(fault: Fault) -> dict[str, Any]:
    if fault.status == 429:
        code = str(fault.code or "rate_limit_exceeded")
        message = fault.message or ("You exceeded your current quota, please check your plan and billing details."
                                    if code == "insufficient_quota" else
                                    "Rate limit reached for requests. Please try again later.")
        return {"error": {"message": message, "type": "insufficient_quota" if code == "insufficient_quota" else "requests",
                          "param": None, "code": code}}
    kind = "server_error" if fault.status >= 500 else "invalid_request_error"
    return {"error": {"message": fault.message or f"Injected error {fault.status}", "type": kind, "param": None,
                      "code": None if fault.code is None else str(fault.code)}}


def _text_of(content: Any) -> str:
    """Message content is a string or a list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def source_text(messages: list[dict[str, Any]]) -> str:
    user = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    text = user[-1] if user else ""
    match = _TEXT_LINE.search(text)
    return (text[match.end():] if match else text).strip()


def variant_count(messages: list[dict[str, Any]]) -> int | None:
    for message in messages:
        match = _COUNT.search(_text_of(message.get("content")))
        if match:
            return max(1, min(MAX_VARIANTS, int(match.group(1))))
    return None


def complete(messages: list[dict[str, Any]], offset: int = 0) -> str:
    """The deterministic answer to a conversation (see the module docstring)."""
    text = source_text(messages)
    count = variant_count(messages)

    def variant(i: int) -> str:
        label, opening, ending = TONES[(offset + i) % len(TONES)]
        return f"[{label}] {opening}{text}{ending}"

    if count is None:
        return variant(0)
    return "\n".join(f"{i + 1}. {variant(i)}" for i in range(count))


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def add_routes(app: web.Application, state: Any) -> None:
    fake = ProviderFake(name="openai", prefix=PREFIX, state=state)
    ids = itertools.count(1)

    def key_problem(request: web.Request, entry: dict[str, Any]) -> web.Response | None:
        key = bearer(request)
        if not key:
            entry["answered"] = 401
            return openai_error(401, "You didn't provide an API key. You need to provide your API key in an "
                                     "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        if not key.startswith("sk-") or "invalid" in key:
            entry["answered"] = 401
            return openai_error(401, f"Incorrect API key provided: {key[:3]}***{key[-4:]}. You can find your API key "
                                     "at https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    async def chat_completions(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = fake.record(kind="chat", body=body, api_key=bearer(request))
        bad = key_problem(request, entry)
        if bad is not None:
            return bad
        fault = await fake.take_fault()
        if fault is not None:
            entry["answered"] = fault.status
            return fault_response(fault, _fault_shape)
        if not isinstance(body, dict):
            entry["answered"] = 400
            return openai_error(400, "We could not parse the JSON body of your request.")
        model = body.get("model")
        messages = body.get("messages")
        if not model:
            entry["answered"] = 400
            return openai_error(400, "you must provide a model parameter", param="model")
        if model not in MODELS:
            entry["answered"] = 404
            return openai_error(404, f"The model `{model}` does not exist or you do not have access to it.",
                                code="model_not_found")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            entry["answered"] = 400
            return openai_error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                                param="messages", code="empty_array")
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 128:
            entry["answered"] = 400
            return openai_error(400, "Invalid 'n': expected an integer between 1 and 128.", param="n")
        contents = [complete(messages, offset=i) for i in range(n)]
        prompt_tokens = sum(tokens(_text_of(m.get("content"))) for m in messages)
        completion_tokens = sum(tokens(c) for c in contents)
        entry["answered"] = 200
        return web.json_response({
            "id": f"chatcmpl-fake{next(ids):08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": i, "message": {"role": "assistant", "content": c, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"} for i, c in enumerate(contents)],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            "system_fingerprint": "fp_fake",
        })

    async def models(request: web.Request) -> web.Response:
        entry = fake.record(kind="models", api_key=bearer(request))
        bad = key_problem(request, entry)
        if bad is not None:
            return bad
        fault = await fake.take_fault()
        if fault is not None:
            return fault_response(fault, _fault_shape)
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"} for m in MODELS]})

    fake.add_control_routes(app)
    app.router.add_post(f"{API}/chat/completions", chat_completions)
    app.router.add_get(f"{API}/models", models)
