"""What a trained campaign would answer to one inbound message. Sends nothing: the task and the
settings page's "Test AI responses" box both call `reply_decide`.

Order: a contact asking for a person is handed over before anything else; then keyword triggers
(cheap, predictable, the marketer's own words); then the model, which either names an intent
trigger, writes an answer from the campaign's content and instruction, or says HANDOVER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from campaigns.content import content_for
from campaigns.models import (
    AutoReplySettings,
    AutoReplySource,
    Campaign,
    MessageTemplate,
    ResponseTrigger,
    ResponseTriggerKind,
)
from campaigns.rendering import TemplateSyntaxError, compile_template, contact_context
from channels import ai
from channels.base import ProviderError

# Asking for a person, in the words contacts actually use. Deliberately not "talk to" alone
# ("talk to you soon") nor bare "person" ("in person").
PERSON_REQUEST = re.compile(
    r"\b(?:human|agent|representative|operator|real person|a person|actual person|someone|somebody|"
    r"customer (?:care|service|support)|support team|call me)\b",
    re.IGNORECASE,
)
# The model's way of saying it is unsure (we ask for exactly this word).
HANDOVER_WORD = re.compile(r"\bHANDOVER\b")
INTENT_ANSWER = re.compile(r"^\W*INTENT\s*[:#]?\s*(\d{1,3})\W*$", re.IGNORECASE)
MAX_REPLY_CHARS = 1000  # a WhatsApp answer, not an essay (the API allows 4096)


@dataclass(frozen=True)
class Decision:
    source: str  # AutoReplySource
    text: str = ""  # what would be sent (empty for a handover)
    trigger: ResponseTrigger | None = None
    note: str = ""  # why a person has to answer
    error_code: str = ""


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def keyword_trigger(triggers: list[ResponseTrigger], text: str) -> ResponseTrigger | None:
    """The first keyword trigger whose word or phrase appears whole in the text."""
    words = _words(text)
    for trigger in triggers:
        if trigger.kind != ResponseTriggerKind.KEYWORD:
            continue
        if any(_words(k).strip() and _words(k) in words for k in trigger.keywords):
            return trigger
    return None


def render_response(trigger: ResponseTrigger, contact) -> str:
    try:
        return compile_template(trigger.response).render(contact_context(contact) if contact else {})
    except TemplateSyntaxError:
        # Saved templates are validated; an older broken one is sent as written rather than lost.
        return trigger.response


def campaign_brief(campaign: Campaign) -> str:
    """What the model may know: the campaign's name, description and the WhatsApp message sent."""
    lines = [f"Campaign: {campaign.name}"]
    if campaign.description:
        lines.append(f"About it: {campaign.description}")
    content = campaign.contents.filter(channel="whatsapp").first()
    if content is not None:
        typed = content_for("whatsapp", content.data)
        message = typed.session_text if typed.mode == "session" else ""
        if typed.mode == "template" and typed.template_id:
            template = MessageTemplate.objects.filter(tenant_id=campaign.tenant_id, pk=typed.template_id).first()
            message = template.body if template else ""
        if message:
            lines.append(f"The message the contact received:\n{message}")
    return "\n".join(lines)


def build_messages(*, campaign: Campaign, instruction: str, intents: list[ResponseTrigger], text: str) -> list[dict]:
    system = [
        f"You answer WhatsApp replies on behalf of {campaign.tenant.name}.",
        campaign_brief(campaign),
    ]
    if instruction.strip():
        system.append(f"The marketer's instructions:\n{instruction.strip()}")
    if intents:
        listed = "\n".join(f"{n}. {t.intent}" for n, t in enumerate(intents, start=1))
        system.append("If the message clearly matches one of these intents, answer exactly INTENT <number> "
                      f"and nothing else:\n{listed}")
    system.append("Answer briefly (at most three sentences), in the contact's language, using only what is "
                  "written above. If you are not sure of the answer, answer exactly HANDOVER and nothing else.")
    return [{"role": "system", "content": "\n\n".join(system)}, {"role": "user", "content": text}]


def reply_decide(*, campaign: Campaign, text: str, contact=None) -> Decision:
    if PERSON_REQUEST.search(text):
        return Decision(AutoReplySource.HANDOVER, note="The contact asked for a person.")
    triggers = list(campaign.response_triggers.all())
    trigger = keyword_trigger(triggers, text)
    if trigger is not None:
        return Decision(AutoReplySource.TRIGGER, text=render_response(trigger, contact), trigger=trigger)
    if not campaign.tenant.ai_enabled:
        return Decision(AutoReplySource.HANDOVER, note="AI is switched off for this workspace and no trigger matched.")
    options = AutoReplySettings.objects.filter(campaign=campaign).first()
    intents = [t for t in triggers if t.kind == ResponseTriggerKind.INTENT]
    messages = build_messages(campaign=campaign, instruction=options.instruction if options else "",
                              intents=intents, text=text)
    try:
        answer = ai.chat_complete(messages=messages, model=(options.model if options else "") or settings.OPENAI_MODEL,
                                  api_key=settings.OPENAI_API_KEY, temperature=0.3).strip()
    except ProviderError as exc:
        # No answer is better than a wrong one: a person picks the conversation up.
        return Decision(AutoReplySource.HANDOVER, note=f"The AI could not answer: {exc.message}"[:300],
                        error_code=exc.code or "")
    intent = INTENT_ANSWER.match(answer)
    if intent and 1 <= int(intent.group(1)) <= len(intents):
        trigger = intents[int(intent.group(1)) - 1]
        return Decision(AutoReplySource.TRIGGER, text=render_response(trigger, contact), trigger=trigger)
    if HANDOVER_WORD.search(answer) or intent:
        return Decision(AutoReplySource.HANDOVER, note="The AI was not sure of the answer.")
    return Decision(AutoReplySource.AI, text=answer[:MAX_REPLY_CHARS])
