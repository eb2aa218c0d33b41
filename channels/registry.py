"""The provider registry is data: key -> (label, channel, dotted path). Imported lazily.

Adding a provider is one module in channels/providers/ plus one line here.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

PROVIDERS: dict[str, tuple[str, str, str]] = {
    "sandbox": ("Sandbox (outbox page, no credentials)", "any", "channels.providers.sandbox.Sandbox"),
    "sendgrid": ("Email (SendGrid)", "email", "channels.providers.sendgrid_email.SendGridEmail"),
    "twilio_sms": ("SMS (Twilio)", "sms", "channels.providers.twilio_sms.TwilioSms"),
    "twilio_whatsapp": ("WhatsApp (Twilio)", "whatsapp", "channels.providers.twilio_whatsapp.TwilioWhatsApp"),
    "meta_whatsapp": ("WhatsApp (Meta Cloud API)", "whatsapp", "channels.providers.meta_whatsapp.MetaWhatsApp"),
    "webpush": ("Web push (VAPID)", "push", "channels.providers.webpush.WebPush"),
    "telegram": ("Telegram (Bot API)", "telegram", "channels.providers.telegram.Telegram"),
    "twilio_voice": ("Voice (Twilio Calls)", "voice", "channels.providers.twilio_voice.TwilioVoice"),
    "facebook_page": ("Facebook Page", "social", "channels.providers.social.FacebookPage"),
    "instagram": ("Instagram", "social", "channels.providers.social.Instagram"),
    "x": ("X", "social", "channels.providers.social.XPost"),
    "linkedin": ("LinkedIn", "social", "channels.providers.social.LinkedIn"),
}

PROVIDER_CHOICES = [(key, label) for key, (label, _channel, _path) in PROVIDERS.items()]


@cache
def adapter_class(key: str):
    try:
        _label, _channel, dotted = PROVIDERS[key]
    except KeyError:
        raise LookupError(f"Unknown provider {key!r}") from None
    module_path, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_path), class_name)


def providers_for_channel(channel: str) -> list[str]:
    return [key for key, (_l, ch, _p) in PROVIDERS.items() if ch in (channel, "any")]
