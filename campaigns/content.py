"""Typed views of each channel's content (CampaignContent.data) and how it renders per recipient.

The wizard validates through these classes and the engine renders through them, so what the
marketer previews is exactly what is sent. Each class: from_data() / to_data(), errors() for the
form (template syntax and channel limits), and render(context) -> fields for an OutboundMessage.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar

import nh3

from campaigns.rendering import CompiledTemplate, TemplateSyntaxError, compile_template

SMS_SEGMENT_WARNING_LENGTH = 160
PUSH_TITLE_LIMIT = 50
PUSH_BODY_LIMIT = 240
TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
EMAIL_SUBJECT_LIMIT = 200
VOICE_SCRIPT_LIMIT = 4000
VOICEMAIL_LIMIT = 500  # channels.providers.twilio_voice.TwilioVoice.MAX_VOICEMAIL
SOCIAL_TEXT_LIMITS = {"x": 280, "linkedin": 3000, "facebook": 63206, "instagram": 2200, "whatsapp": 4096}


def html_to_text(source: str) -> str:
    """A readable plain-text alternative generated from email HTML."""
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", source)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|tr)>", "\n\n", text)
    text = re.sub(r'(?is)<a\s[^>]*href=["\']([^"\']+)["\'][^>]*>(.*?)</a>', r"\2 (\1)", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html_lib.unescape(text)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


def sanitize_html(source: str) -> str:
    """Email HTML made safe to show inside our own pages (preview): no scripts, no handlers."""
    return nh3.clean(source, link_rel="noopener noreferrer")


@dataclass
class ChannelContent:
    channel: ClassVar[str]
    # Fields holding personalisable text, with their limits (None: no limit).
    templated: ClassVar[dict[str, int | None]] = {}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None):
        data = data or {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @cached_property
    def _compiled(self) -> dict[str, CompiledTemplate]:
        return {name: compile_template(getattr(self, name) or "") for name in self.templated}

    def errors(self) -> dict[str, list[str]]:
        """Field -> messages. Limits are checked on the template text; rendered text may differ."""
        problems: dict[str, list[str]] = {}
        for name, limit in self.templated.items():
            value = getattr(self, name) or ""
            try:
                compile_template(value)
            except TemplateSyntaxError as exc:
                problems.setdefault(name, []).append(str(exc))
            if limit and len(value) > limit:
                problems.setdefault(name, []).append(f"Keep this under {limit} characters (now {len(value)}).")
        for name, message in self.required_errors():
            problems.setdefault(name, []).append(message)
        return problems

    def required_errors(self) -> list[tuple[str, str]]:
        return []

    def render_field(self, name: str, context: dict[str, Any], *, escape_html: bool = False) -> str:
        return self._compiled[name].render(context, escape_html=escape_html)

    def render(self, context: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


@dataclass
class EmailContent(ChannelContent):
    channel: ClassVar[str] = "email"
    templated: ClassVar[dict[str, int | None]] = {"subject": EMAIL_SUBJECT_LIMIT, "preheader": 150, "html": None, "text": None}

    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""  # blank: generated from the HTML

    def required_errors(self):
        out = []
        if not self.subject.strip():
            out.append(("subject", "An email needs a subject."))
        if not self.html.strip() and not self.text.strip():
            out.append(("html", "Write the email body."))
        return out

    def render(self, context):
        return self._render(lambda name, escape=False: self.render_field(name, context, escape_html=escape))

    def render_tagged(self, tag):
        """render() with every variable replaced by tag(var), unescaped wherever it lands (the
        batched email path swaps the tags inside the HTML for escaped ones afterwards)."""
        return self._render(lambda name, escape=False: self._compiled[name].render_tagged(tag))

    def _render(self, field):
        body_html = field("html", escape=True)
        if self.preheader:
            hidden = html_lib.escape(field("preheader"))
            # The preheader is the inbox preview line; hidden in the opened message.
            body_html = f'<div style="display:none;max-height:0;overflow:hidden">{hidden}</div>{body_html}'
        text = field("text") if self.text.strip() else html_to_text(body_html)
        return {"subject": field("subject"), "html": body_html, "text": text}


@dataclass
class PushContent(ChannelContent):
    channel: ClassVar[str] = "push"
    templated: ClassVar[dict[str, int | None]] = {"title": PUSH_TITLE_LIMIT, "body": PUSH_BODY_LIMIT}

    title: str = ""
    body: str = ""
    url: str = ""
    icon: str = ""

    def required_errors(self):
        return [("title", "A push notification needs a title.")] if not self.title.strip() else []

    def render(self, context):
        return {"title": self.render_field("title", context), "text": self.render_field("body", context),
                "url": self.url, "options": {"icon": self.icon} if self.icon else {}}


@dataclass
class SmsContent(ChannelContent):
    channel: ClassVar[str] = "sms"
    templated: ClassVar[dict[str, int | None]] = {"text": 1600}

    text: str = ""

    def required_errors(self):
        return [("text", "Write the SMS text.")] if not self.text.strip() else []

    def render(self, context):
        return {"text": self.render_field("text", context)}


@dataclass
class WhatsAppContent(ChannelContent):
    channel: ClassVar[str] = "whatsapp"
    templated: ClassVar[dict[str, int | None]] = {"session_text": 4096}

    mode: str = "template"  # "template" (business-initiated) or "session" (inside the 24-hour window)
    template_id: str = ""
    variables: list[str] = field(default_factory=list)
    media_id: str = ""
    session_text: str = ""

    def errors(self):
        problems = super().errors()
        for index, value in enumerate(self.variables, start=1):
            try:
                compile_template(value or "")
            except TemplateSyntaxError as exc:
                problems.setdefault("variables", []).append(f"Variable {{{{{index}}}}}: {exc}")
        return problems

    def required_errors(self):
        if self.mode == "template" and not self.template_id:
            return [("template_id", "Choose an approved template.")]
        if self.mode == "session" and not self.session_text.strip():
            return [("session_text", "Write the message text.")]
        return []

    def render(self, context):
        if self.mode == "session":
            return {"text": self.render_field("session_text", context)}
        return {"template_variables": [compile_template(v or "").render(context) for v in self.variables]}


@dataclass
class TelegramContent(ChannelContent):
    channel: ClassVar[str] = "telegram"
    templated: ClassVar[dict[str, int | None]] = {"text": TELEGRAM_TEXT_LIMIT}

    text: str = ""
    parse_mode: str = "HTML"  # HTML, MarkdownV2 or "" (plain)
    media_id: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)  # [{"text": ..., "url": ...}]
    disable_preview: bool = False
    silent: bool = False
    pin: bool = False

    def errors(self):
        problems = super().errors()
        if self.media_id and len(self.text) > TELEGRAM_CAPTION_LIMIT:
            problems.setdefault("text", []).append(
                f"With media the text is a caption: keep it under {TELEGRAM_CAPTION_LIMIT} characters."
            )
        for button in self.buttons:
            if not button.get("text") or not str(button.get("url", "")).startswith(("https://", "http://", "tg://")):
                problems.setdefault("buttons", []).append("Each button needs a label and an http(s) link.")
                break
        return problems

    def required_errors(self):
        return [("text", "Write the message text.")] if not self.text.strip() and not self.media_id else []

    def render(self, context):
        escape = self.parse_mode == "HTML"
        return {
            "text": self.render_field("text", context, escape_html=escape),
            "options": {
                "parse_mode": self.parse_mode, "buttons": self.buttons, "disable_preview": self.disable_preview,
                "silent": self.silent, "pin": self.pin,
            },
        }


@dataclass
class VoiceContent(ChannelContent):
    channel: ClassVar[str] = "voice"
    templated: ClassVar[dict[str, int | None]] = {"script": VOICE_SCRIPT_LIMIT, "voicemail_text": VOICEMAIL_LIMIT}

    caller_id: str = ""
    queue: str = ""
    max_concurrent: int = 1
    max_retries: int = 0
    retry_delay: int = 60
    script: str = ""
    audio_media_id: str = ""
    amd_enabled: bool = False
    amd_action: str = "hangup"  # "hangup" or "voicemail"
    voicemail_text: str = ""

    def errors(self):
        problems = super().errors()
        if not 1 <= int(self.max_concurrent or 0) <= 100:
            problems.setdefault("max_concurrent", []).append("Between 1 and 100 simultaneous calls.")
        if not 0 <= int(self.max_retries or 0) <= 10:
            problems.setdefault("max_retries", []).append("Between 0 and 10 retries.")
        if not 10 <= int(self.retry_delay or 0) <= 86400:
            problems.setdefault("retry_delay", []).append("Between 10 seconds and 24 hours.")
        if self.amd_action not in ("hangup", "voicemail"):
            problems.setdefault("amd_action", []).append("Choose hang up or leave a voicemail.")
        return problems

    def required_errors(self):
        return [("script", "Write a script or attach an audio file.")] if not self.script.strip() and not self.audio_media_id else []

    def render(self, context):
        return {
            "text": self.render_field("script", context),
            "options": {
                "caller_id": self.caller_id, "queue": self.queue, "amd": self.amd_enabled,
                "amd_action": self.amd_action, "voicemail_text": self.render_field("voicemail_text", context),
            },
        }


@dataclass
class SocialContent(ChannelContent):
    channel: ClassVar[str] = "social"
    templated: ClassVar[dict[str, int | None]] = {"text": 63206}

    text: str = ""  # default post text
    posts: dict[str, str] = field(default_factory=dict)  # social account id -> its own text
    media_id: str = ""

    def required_errors(self):
        return [("text", "Write the post.")] if not self.text.strip() and not any(self.posts.values()) else []

    def text_for(self, account_id: str) -> str:
        return self.posts.get(str(account_id)) or self.text

    def render(self, context):
        return {"text": self.text}


CONTENT_CLASSES: dict[str, type[ChannelContent]] = {
    cls.channel: cls
    for cls in (EmailContent, PushContent, SmsContent, WhatsAppContent, TelegramContent, VoiceContent, SocialContent)
}


def content_for(channel: str, data: dict[str, Any] | None) -> ChannelContent:
    return CONTENT_CLASSES[channel].from_data(data)
