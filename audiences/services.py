"""Writes to audiences: address normalization, consent changes, suppression, unsubscribe links.

Consent rule: every change of a contact's current state (Contact.consent_<channel>) appends a
ConsentEvent in the same transaction; nothing else writes those columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import phonenumbers
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    Suppression,
    SuppressionKind,
    consent_field,
)

logger = logging.getLogger(__name__)

PHONE_CHANNELS = ("sms", "whatsapp", "voice")


# --- addresses ----------------------------------------------------------------------------------

def email_normalize(value: str) -> str:
    """Lower-cased, stripped address; raises ValueError with a readable reason when invalid."""
    email = (value or "").strip().lower()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"“{value.strip()}” is not a valid email address") from None
    return email


def phone_normalize(value: str, *, region: str) -> str:
    """E.164 form of a phone number written with or without a country code; ValueError if not a number."""
    raw = (value or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"“{raw}” is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"“{raw}” is not a valid phone number for region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- consent ------------------------------------------------------------------------------------

def consent_set(
    *, contact: Contact, channel: str, state: str, source: str, evidence: dict | None = None, actor=None
) -> bool:
    """Set one channel's consent; returns False (and records nothing) when it already had that state."""
    field = consent_field(channel)
    state = ConsentState(state)
    with transaction.atomic():
        previous = (
            Contact.objects.select_for_update().filter(pk=contact.pk).values_list(field, flat=True).first()
        )
        if previous is None or previous == state:
            return False
        Contact.objects.filter(pk=contact.pk).update(**{field: state})
        ConsentEvent.objects.create(
            tenant_id=contact.tenant_id, contact=contact, channel=channel, state=state,
            previous_state=previous, source=ConsentSource(source), evidence=evidence or {}, actor=actor,
        )
    setattr(contact, field, state)
    return True


def consent_set_channels(
    *, contact: Contact, states: dict[str, str], source: str, evidence: dict | None = None, actor=None
) -> list[str]:
    """Apply several channels at once (a preference centre form); returns the channels that changed."""
    changed = []
    with transaction.atomic():
        for channel, state in states.items():
            if consent_set(contact=contact, channel=channel, state=state, source=source,
                           evidence=evidence, actor=actor):
                changed.append(channel)
    return changed


def consent_opt_out_everywhere(*, contact: Contact, source: str, evidence: dict | None = None) -> list[str]:
    return consent_set_channels(
        contact=contact, states={c: ConsentState.OPTED_OUT for c in CONSENT_CHANNELS},
        source=source, evidence=evidence,
    )


# Keywords carriers and WhatsApp treat as opt-out / opt-in (CTIA's list, upper-cased by the adapters).
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN", "SUBSCRIBE"})


def consent_apply_keyword(*, tenant_id: int, channel: str, address: str, keyword: str, evidence: dict) -> int:
    """An inbound STOP / START from a provider: changes the channel's consent of every contact with that
    address (a phone for SMS / WhatsApp, a chat id for Telegram). Returns how many contacts changed."""
    keyword = (keyword or "").strip().upper()
    if keyword in STOP_KEYWORDS:
        state = ConsentState.OPTED_OUT
    elif keyword in START_KEYWORDS:
        state = ConsentState.OPTED_IN
    else:
        return 0  # HELP and the like change nothing
    if channel not in CONSENT_CHANNELS:
        return 0
    lookup = {"telegram_chat_id": address} if channel == "telegram" else {"phone": address}
    changed = 0
    for contact in Contact.objects.filter(tenant_id=tenant_id, **lookup):
        evidence_with_keyword = {**evidence, "keyword": keyword}
        changed += consent_set(contact=contact, channel=channel, state=state, source=ConsentSource.KEYWORD,
                               evidence=evidence_with_keyword)
    if not changed:
        logger.info("Keyword %s on %s from an address with no contact (tenant %s)", keyword, channel, tenant_id)
    return changed


# --- suppression --------------------------------------------------------------------------------

def suppression_kind_for(channel: str) -> str | None:
    if channel == "email":
        return SuppressionKind.EMAIL
    if channel in PHONE_CHANNELS:
        return SuppressionKind.PHONE
    return None


def suppression_add(*, tenant_id: int, kind: str, value: str, reason: str = "",
                    source: str = ConsentSource.ADMIN) -> tuple[Suppression, bool]:
    kind = SuppressionKind(kind)
    return Suppression.objects.get_or_create(
        tenant_id=tenant_id, kind=kind, value=value.strip().lower() if kind == SuppressionKind.EMAIL else value.strip(),
        defaults={"reason": reason[:200], "source": ConsentSource(source)},
    )


def suppressions_add_bulk(*, tenant_id: int, kind: str, values: Iterable[str], reason: str = "",
                          source: str = ConsentSource.ADMIN) -> int:
    rows = [Suppression(tenant_id=tenant_id, kind=kind, value=v, reason=reason[:200], source=source)
            for v in {v for v in values if v}]
    created = Suppression.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(created)


# --- unsubscribe links --------------------------------------------------------------------------
# A signed, tenant-bound token: no login needed, nothing guessable, and a token made for one
# tenant is useless on another. No expiry: an unsubscribe link in a two-year-old email must work.

_UNSUBSCRIBE_SALT = "audiences.unsubscribe.v1"


def unsubscribe_token(*, contact: Contact, channel: str = "") -> str:
    return signing.dumps({"t": contact.tenant_id, "c": contact.pk.hex, "ch": channel}, salt=_UNSUBSCRIBE_SALT,
                         compress=True)


def unsubscribe_token_read(token: str) -> tuple[int, str, str] | None:
    """(tenant_id, contact uuid hex, channel) or None for a forged or mangled token."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
        return int(data["t"]), str(data["c"]), str(data.get("ch") or "")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def unsubscribe_path(*, contact: Contact, channel: str = "") -> str:
    """The preference-centre path (GET shows, POST changes)."""
    return reverse("audiences_public:preferences", args=[unsubscribe_token(contact=contact, channel=channel)])


def unsubscribe_one_click_path(*, contact: Contact, channel: str = "email") -> str:
    """RFC 8058 target for List-Unsubscribe-Post: a POST of `List-Unsubscribe=One-Click` opts out."""
    return reverse("audiences_public:one_click", args=[unsubscribe_token(contact=contact, channel=channel)])
