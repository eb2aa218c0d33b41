"""Voice calls through Twilio's Calls API, with the official SDK.

The call plays inline TwiML: <Play> for a recording (message.media[0].url, or options["audio_url"])
or <Say> for text (options["voice"], options["language"]). With options["amd"] answering-machine
detection is on; options["amd_action"]:
  "voicemail" (default) -> MachineDetection=DetectMessageEnd, the message plays after the beep;
                           with options["voicemail_text"], asynchronous AMD instead: a person hears
                           the message at once, and when the AMD callback says the machine's
                           greeting ended (machine_end_*), the call is redirected to <Say> that text;
  "hangup"              -> asynchronous AMD; when the AMD callback says machine_*, we end the call.
Callbacks map CallStatus / AnsweredBy to a disposition: answered, machine, busy, no_answer, failed.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twilio.twiml.voice_response import VoiceResponse

from channels.base import (
    Capabilities,
    ConfigField,
    OutboundMessage,
    ProviderError,
    Stage,
    StatusEvent,
)
from channels.providers.twilio_base import (
    ACCOUNT_FIELDS,
    DELIVERY_PARAM,
    TwilioAdapter,
    TwilioSettings,
)

logger = logging.getLogger(__name__)

AMD_ACTIONS = ("voicemail", "hangup")
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def _add_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    query.extend(values.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _timestamp(value: Any) -> datetime:
    """Call callbacks carry an RFC 2822 Timestamp; fall back to the time we received them."""
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def disposition_of(status: str, answered_by: str = "") -> str:
    status = status.lower()
    if answered_by.startswith("machine") or answered_by == "fax":
        return "machine"
    return {
        "in-progress": "answered", "answered": "answered", "completed": "answered",
        "busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "failed",
    }.get(status, "")


class TwilioVoice(TwilioAdapter):
    LABEL = "Twilio Voice"
    MAX_SAY = 4000
    MAX_VOICEMAIL = 500  # it travels in the AMD callback URL; a voicemail is a short message anyway

    capabilities = Capabilities(
        channel="voice",
        max_text_length=MAX_SAY,
        media_types=frozenset({"audio/mpeg", "audio/wav", "audio/x-wav"}),
        max_batch=50,
        default_rate_per_second=1.0,  # Twilio's default CPS per account
        callbacks=True,
    )
    fields: ClassVar[tuple[ConfigField, ...]] = (
        *ACCOUNT_FIELDS,
        ConfigField("from_number", "Caller ID number", help="A voice-capable Twilio number in E.164."),
        ConfigField("voice", "Voice", required=False, help="Text-to-speech voice, e.g. Polly.Aditi (default: alice)."),
    )

    def required_for_send(self) -> tuple[str, ...]:
        return ("from_number",)

    def twiml(self, message: OutboundMessage) -> str:
        audio = message.media[0].url if message.media else str(message.options.get("audio_url") or "")
        response = VoiceResponse()
        if audio:
            response.play(audio)
        elif message.text.strip():
            if len(message.text) > self.MAX_SAY:
                raise ProviderError(f"The call script is longer than {self.MAX_SAY} characters.",
                                    code="text_too_long", permanent=True)
            voice = str(message.options.get("voice") or self.config.settings.get("voice") or "alice")
            language = str(message.options.get("language") or "")
            response.say(message.text, voice=voice, **({"language": language} if language else {}))
        else:
            raise ProviderError("The call has neither text to say nor audio to play.", code="empty_message",
                                permanent=True)
        return str(response)

    def build_params(self, s: TwilioSettings, message: OutboundMessage) -> dict[str, Any]:
        params: dict[str, Any] = {"to": message.to.strip(), "from_": s.from_number, "twiml": self.twiml(message)}
        callback = self.status_callback(message)
        if callback:
            params["status_callback"] = callback
            params["status_callback_event"] = CALL_EVENTS
        if message.options.get("amd"):
            action = str(message.options.get("amd_action") or "voicemail")
            if action not in AMD_ACTIONS:
                raise ProviderError(f"Unknown answering-machine action {action!r}.", code="invalid_option",
                                    permanent=True)
            voicemail = str(message.options.get("voicemail_text") or "").strip()
            if action == "voicemail" and voicemail and callback:
                if len(voicemail) > self.MAX_VOICEMAIL:
                    raise ProviderError(f"The voicemail is longer than {self.MAX_VOICEMAIL} characters.",
                                        code="text_too_long", permanent=True)
                # The text rides in the callback URL, which Twilio signs back to us (no lookup needed);
                # base64url, so that no proxy or client re-quoting can change the signed URL.
                params["machine_detection"] = "DetectMessageEnd"
                params["async_amd"] = "true"
                encoded = base64.urlsafe_b64encode(voicemail.encode()).decode().rstrip("=")
                params["async_amd_status_callback"] = _add_query(callback, amd="voicemail", vm=encoded)
            elif action == "voicemail":
                params["machine_detection"] = "DetectMessageEnd"
            else:
                params["machine_detection"] = "Enable"
                params["async_amd"] = "true"
                if callback:
                    params["async_amd_status_callback"] = _add_query(callback, amd="hangup")
        return params

    def create(self, client, params: dict[str, Any]):
        return client.calls.create(**params)

    async def create_async(self, client, params: dict[str, Any]):
        return await client.calls.create_async(**params)

    # --- callbacks -------------------------------------------------------------------------

    def parse_callback(self, request) -> list[StatusEvent]:
        params = {k: request.POST.get(k) for k in request.POST.keys()}
        events = self.parse_call_params(params, delivery_id=request.GET.get(DELIVERY_PARAM, ""))
        if request.GET.get("amd") == "hangup" and any(e.disposition == "machine" for e in events):
            self.hang_up(str(params.get("CallSid") or ""))
        answered_by = str(params.get("AnsweredBy") or "").lower()
        if request.GET.get("amd") == "voicemail" and answered_by.startswith("machine_end"):
            encoded = request.GET.get("vm", "")
            try:
                text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                text = ""  # signed by Twilio, so only our own URL; never expected
            self.leave_voicemail(str(params.get("CallSid") or ""), text)
        return events

    def parse_call_params(self, params: dict[str, Any], *, delivery_id: str = "") -> list[StatusEvent]:
        sid = str(params.get("CallSid") or "")
        status = str(params.get("CallStatus") or "").lower()
        answered_by = str(params.get("AnsweredBy") or "").lower()
        if not status and answered_by:  # asynchronous AMD result
            disposition = disposition_of("answered", answered_by)
            return [StatusEvent(stage=Stage.DELIVERED, provider_message_id=sid, message_id=delivery_id,
                                occurred_at=datetime.now(UTC), event_id=f"{sid}:amd", disposition=disposition,
                                raw=params)]
        if status in ("initiated", "ringing"):
            stage: Stage | None = Stage.SENT
        elif status in ("in-progress", "answered", "completed"):
            stage = Stage.DELIVERED
        elif status in ("busy", "no-answer", "failed", "canceled"):
            stage = Stage.FAILED
        else:  # queued
            return []
        disposition = disposition_of(status, answered_by) if stage != Stage.SENT else ""
        return [StatusEvent(
            stage=stage,
            provider_message_id=sid,
            message_id=delivery_id,
            occurred_at=_timestamp(params.get("Timestamp")),
            event_id=f"{sid}:{status}",
            error_code=str(params.get("ErrorCode") or ""),
            error_message=str(params.get("ErrorMessage") or ""),
            disposition=disposition,
            raw=params,
        )]

    def leave_voicemail(self, call_sid: str, text: str) -> None:
        """After the machine's beep, replace what the call plays with the voicemail; failures are logged."""
        if not call_sid or not text.strip():
            return
        response = VoiceResponse()
        response.say(text[: self.MAX_VOICEMAIL], voice=str(self.config.settings.get("voice") or "alice"))
        try:
            client = self.client()
            self.call(client, lambda: client.calls(call_sid).update(twiml=str(response)))
        except ProviderError as exc:
            logger.warning("Could not leave the voicemail on call %s: %s", call_sid, exc.message)

    def hang_up(self, call_sid: str) -> None:
        """End a call that reached a machine (amd_action=hangup); failures are only logged."""
        if not call_sid:
            return
        try:
            client = self.client()
            self.call(client, lambda: client.calls(call_sid).update(status="completed"))
        except ProviderError as exc:
            logger.warning("Could not hang up call %s after machine detection: %s", call_sid, exc.message)
