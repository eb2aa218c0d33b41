"""AI Generate: three content variants for one channel, written from the campaign's name,
description and purpose by an OpenAI-compatible chat model.

The model is asked for JSON and told the channel's limits; what comes back is still cut to the
limits here (models count characters badly), so a picked variant never fails validation for
length. Calls go through channels.ai.chat_complete (the openai SDK); OPENAI_BASE_URL, OPENAI_API_KEY
and OPENAI_MODEL are read at call time. A model that ignores the JSON request and answers in
numbered lines still works: each line fills the channel's main field.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings

from campaigns.content import (
    EMAIL_SUBJECT_LIMIT,
    PUSH_BODY_LIMIT,
    PUSH_TITLE_LIMIT,
    SMS_SEGMENT_WARNING_LENGTH,
    TELEGRAM_TEXT_LIMIT,
    VOICE_SCRIPT_LIMIT,
)
from campaigns.models import Campaign
from tenants.models import CHANNEL_LABELS, Tenant

logger = logging.getLogger(__name__)

VARIANT_COUNT = 3
TIMEOUT_SECONDS = 20.0

# Per channel: the content fields a variant fills, each with its limit and what it is.
CHANNEL_FIELDS: dict[str, dict[str, tuple[int, str]]] = {
    "email": {"subject": (EMAIL_SUBJECT_LIMIT, "subject line"), "preheader": (150, "inbox preview line"),
              "html": (20000, "HTML body using <p>, <strong> and <a> only")},
    "push": {"title": (PUSH_TITLE_LIMIT, "notification title"), "body": (PUSH_BODY_LIMIT, "notification text")},
    "sms": {"text": (SMS_SEGMENT_WARNING_LENGTH, "SMS text, plain GSM characters, no emoji, ending with "
                                                  "'Reply STOP to opt out'")},
    "whatsapp": {"session_text": (1024, "WhatsApp message")},
    "telegram": {"text": (TELEGRAM_TEXT_LIMIT, "Telegram message, may use <b> and <i>")},
    "voice": {"script": (VOICE_SCRIPT_LIMIT, "script read aloud by text-to-speech")},
    "social": {"text": (280, "social media post")},
}


class AiUnavailable(Exception):
    """AI generation is switched off or not configured; the message says how to enable it."""


class AiError(Exception):
    """The model could not be reached or answered something unusable; shown inline."""


@dataclass(frozen=True)
class Variant:
    values: dict[str, str]

    @property
    def summary(self) -> str:
        return next(iter(self.values.values()), "")


def ai_unavailable_reason(tenant: Tenant) -> str:
    """"" when the button may be used, else why not (shown instead of the button)."""
    if not tenant.ai_enabled:
        return "AI generation is switched off for this workspace."
    if not settings.OPENAI_API_KEY:
        return ("AI generation needs an OpenAI API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible "
                "service) in the server's environment and restart.")
    return ""


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters at a word boundary, with an ellipsis when something was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


# The field a one-line answer fills when the model answers in numbered lines instead of JSON.
MAIN_FIELD = {"email": "subject", "push": "title", "sms": "text", "whatsapp": "session_text", "telegram": "text",
              "voice": "script", "social": "text"}
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+(.+?)\s*$")
_TONE_LABEL = re.compile(r"^\[[^\]]{1,24}\]\s*")


def _prompt(campaign: Campaign, channel: str) -> list[dict[str, str]]:
    fields = CHANNEL_FIELDS[channel]
    shape = ", ".join(f'"{name}": <{what}, at most {limit} characters>' for name, (limit, what) in fields.items())
    system = (
        f"You write marketing messages. Write {VARIANT_COUNT} variants. Answer with JSON only, no prose: "
        f'{{"variants": [{{{shape}}}, ...]}}. '
        "You may personalise with {{ first_name }} or {{ city }}; use no other placeholders."
    )
    # The brief comes last, after "Text:", the line a model (and the fake provider) writes from.
    user = (
        f"Channel: {CHANNEL_LABELS[channel]}\nPurpose: {campaign.get_purpose_display()}\n"
        f"Text: {campaign.name}. {campaign.description}".rstrip(" .") + "."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _chat(messages: list[dict[str, str]]) -> str:
    from channels.ai import chat_complete
    from channels.base import ConfigurationError, ProviderError

    try:
        return chat_complete(messages=messages, model=settings.OPENAI_MODEL, api_key=settings.OPENAI_API_KEY,
                             temperature=0.9, timeout=TIMEOUT_SECONDS)
    except ConfigurationError as exc:
        raise AiUnavailable(str(exc)) from None
    except ProviderError as exc:
        logger.info("AI generation failed: %s (%s)", exc, exc.code)
        if exc.code == "timeout":
            raise AiError("The AI service did not answer in time; try again.") from None
        if exc.code == "connection":
            raise AiError("Could not reach the AI service; try again later.") from None
        if exc.code in ("invalid_api_key", "401"):
            raise AiError("The AI service refused the API key; ask an admin to check OPENAI_API_KEY.") from None
        if not exc.permanent:
            raise AiError(f"The AI service is busy or failing ({exc}); try again in a minute.") from None
        raise AiError(f"The AI service refused the request: {exc}") from None


def _numbered_lines(raw: str, channel: str) -> list[dict[str, str]]:
    items = []
    for line in raw.splitlines():
        match = _NUMBERED.match(line)
        if match:
            items.append({MAIN_FIELD[channel]: _TONE_LABEL.sub("", match.group(2))})
    return items


def parse_variants(raw: str, channel: str) -> list[Variant]:
    """Variants from the model's JSON (tolerating a ```json fence) or, failing that, its numbered
    lines; every value cut to the channel's limits."""
    fields = CHANNEL_FIELDS[channel]
    stripped = re.sub(r"^\s*```(?:json)?|```\s*$", "", raw.strip())
    try:
        payload = json.loads(stripped)
        items = payload.get("variants") if isinstance(payload, dict) else payload
    except json.JSONDecodeError:
        items = _numbered_lines(raw, channel)
    variants = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            item = {MAIN_FIELD[channel]: item}
        if not isinstance(item, dict):
            continue
        values = {name: truncate(str(item.get(name) or ""), limit) for name, (limit, _) in fields.items()}
        if any(values.values()):
            variants.append(Variant(values))
    if not variants:
        raise AiError("The AI service returned no usable variants; try again.")
    return variants[:VARIANT_COUNT]


def content_variants(*, campaign: Campaign, channel: str) -> list[Variant]:
    """Up to three variants for `channel`. Raises AiUnavailable or AiError."""
    if channel not in CHANNEL_FIELDS:
        raise AiError("AI generation is not available for this channel.")
    reason = ai_unavailable_reason(campaign.tenant)
    if reason:
        raise AiUnavailable(reason)
    return parse_variants(_chat(_prompt(campaign, channel)), channel)
