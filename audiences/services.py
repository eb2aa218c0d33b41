"""Writes to audiences: address normalization, consent changes, suppression, unsubscribe links.

Consent rule: every change of a contact's current state (Contact.consent_<channel>) appends a
ConsentEvent in the same transaction; nothing else writes those columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import phonenumbers
from django.core import signing
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.urls import reverse

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactList,
    Suppression,
    SuppressionKind,
    Tag,
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
    # Not compress=True: zlib never shortens this payload (a hex UUID), so the token is the same
    # without it, and every email computes two of these at send time.
    return signing.dumps({"t": contact.tenant_id, "c": contact.pk.hex, "ch": channel}, salt=_UNSUBSCRIBE_SALT)


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


# --- contacts -----------------------------------------------------------------------------------

class DuplicateContact(ValueError):
    """Another contact of the tenant already has this email or phone."""

    def __init__(self, field: str, value: str):
        self.field = field
        super().__init__(f"Another contact already has the {field} {value}.")


# Consent columns are not here on purpose: they change only through consent_set.
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "role", "city", "pincode", "attributes", "timezone",
                  "locale", "telegram_chat_id", "telegram_username")


def _duplicate_field(*, tenant_id: int, email: str, phone: str, exclude_pk=None) -> tuple[str, str] | None:
    others = Contact.objects.filter(tenant_id=tenant_id).exclude(pk=exclude_pk)
    if email and others.filter(email=email).exists():
        return "email", email
    if phone and others.filter(phone=phone).exists():
        return "phone", phone
    return None


def contact_duplicate_check(*, tenant_id: int, email: str, phone: str, exclude_pk=None) -> None:
    """Raise DuplicateContact naming the clashing field (forms turn it into a field error)."""
    clash = _duplicate_field(tenant_id=tenant_id, email=email, phone=phone, exclude_pk=exclude_pk)
    if clash:
        raise DuplicateContact(*clash)


def contact_save(*, tenant_id: int, contact: Contact | None = None, fields: dict, tags: Iterable[Tag] | None = None,
                 lists: Iterable[ContactList] | None = None) -> Contact:
    """Create (contact=None) or update a contact from already-normalized fields.

    The unique constraints are the real guard; a concurrent insert that slips past the form's
    check still becomes a DuplicateContact rather than a 500."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"Not contact fields: {sorted(unknown)}")
    contact = contact or Contact(tenant_id=tenant_id)
    for name, value in fields.items():
        setattr(contact, name, value)
    try:
        with transaction.atomic():
            contact.save()
            if tags is not None:
                contact.tags.set(tags)
            if lists is not None:
                contact.lists.set(lists)
    except IntegrityError:
        contact_duplicate_check(tenant_id=tenant_id, email=contact.email, phone=contact.phone, exclude_pk=contact.pk)
        raise
    return contact


# --- bulk actions over a queryset of contacts -----------------------------------------------------
# Each is one statement whatever the number of contacts: INSERT ... SELECT for links, a DELETE
# with a subquery to unlink. Works on PostgreSQL and SQLite (both know ON CONFLICT DO NOTHING).

def _link_contacts(*, through, contacts: QuerySet[Contact], other_field: str, other_pk) -> int:
    table = connection.ops.quote_name(through._meta.db_table)
    contact_column = connection.ops.quote_name(through._meta.get_field("contact").column)
    other = through._meta.get_field(other_field)
    other_column = connection.ops.quote_name(other.column)
    other_value = other.target_field.get_db_prep_value(other_pk, connection)
    try:
        select_sql, params = contacts.order_by().values(chosen_id=F("pk")).query.sql_with_params()
    except EmptyResultSet:  # e.g. no ticked ids: nothing to link
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({contact_column}, {other_column}) "
            f"SELECT chosen.chosen_id, %s FROM ({select_sql}) chosen ON CONFLICT DO NOTHING",
            [other_value, *params],
        )
        return max(cursor.rowcount, 0)


def contacts_tag_add(*, contacts: QuerySet[Contact], tag: Tag) -> int:
    """Tag every contact of the queryset; returns how many were not tagged before."""
    return _link_contacts(through=Contact.tags.through, contacts=contacts, other_field="tag", other_pk=tag.pk)


def contacts_tag_remove(*, contacts: QuerySet[Contact], tag: Tag) -> int:
    through = Contact.tags.through
    deleted, _ = through.objects.filter(tag_id=tag.pk, contact_id__in=contacts.order_by().values("pk")).delete()
    return deleted


def contacts_list_add(*, contacts: QuerySet[Contact], contact_list: ContactList) -> int:
    return _link_contacts(through=ContactList.contacts.through, contacts=contacts, other_field="contactlist",
                          other_pk=contact_list.pk)


def contacts_list_remove(*, contacts: QuerySet[Contact], contact_list: ContactList) -> int:
    through = ContactList.contacts.through
    deleted, _ = through.objects.filter(contactlist_id=contact_list.pk,
                                        contact_id__in=contacts.order_by().values("pk")).delete()
    return deleted


DELETE_BATCH = 5000


def contacts_delete(*, contacts: QuerySet[Contact]) -> int:
    """Delete the contacts with their history, links and push subscriptions.

    Django's collector runs the cascades (so relations other apps add later are honoured);
    batches of ids keep its memory flat on a large selection, walking forward by id so no batch
    re-reads the rows the previous ones deleted; one transaction keeps a failed delete from
    leaving half of it done."""
    deleted, last_pk = 0, None
    with transaction.atomic():
        while True:
            remaining = contacts.order_by("pk") if last_pk is None else contacts.filter(pk__gt=last_pk).order_by("pk")
            batch = list(remaining.values_list("pk", flat=True)[:DELETE_BATCH])
            if not batch:
                return deleted
            last_pk = batch[-1]
            _, per_model = Contact.objects.filter(pk__in=batch).delete()
            deleted += per_model.get(Contact._meta.label, 0)


# --- tags and lists -----------------------------------------------------------------------------

class NameTaken(ValueError):
    pass


def tag_save(*, tenant_id: int, name: str, tag: Tag | None = None) -> Tag:
    """Create or rename a tag; names are unique per tenant regardless of case."""
    name = name.strip()
    if Tag.objects.filter(tenant_id=tenant_id, name__iexact=name).exclude(pk=getattr(tag, "pk", None)).exists():
        raise NameTaken(f"There is already a tag called “{name}”.")
    tag = tag or Tag(tenant_id=tenant_id)
    tag.name = name
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise NameTaken(f"There is already a tag called “{name}”.") from None
    return tag


def tag_delete(*, tag: Tag) -> None:
    """Untags every contact; segments naming the tag then match nobody through it."""
    tag.delete()


def contact_list_save(*, tenant_id: int, name: str, description: str = "",
                      contact_list: ContactList | None = None) -> ContactList:
    name = name.strip()
    others = ContactList.objects.filter(tenant_id=tenant_id, name=name).exclude(pk=getattr(contact_list, "pk", None))
    if others.exists():
        raise NameTaken(f"There is already a list called “{name}”.")
    contact_list = contact_list or ContactList(tenant_id=tenant_id)
    contact_list.name, contact_list.description = name, description
    try:
        with transaction.atomic():
            contact_list.save()
    except IntegrityError:
        raise NameTaken(f"There is already a list called “{name}”.") from None
    return contact_list


def contact_list_delete(*, contact_list: ContactList) -> None:
    """Deletes the list, never its contacts."""
    contact_list.delete()


def suppression_remove(*, suppression: Suppression) -> None:
    suppression.delete()
