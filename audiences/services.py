"""Writes to audiences: address normalization, consent changes, suppression, unsubscribe links.

Consent rule: every change of a contact's current state (Contact.consent_<channel>) appends a
ConsentEvent in the same transaction; nothing else writes those columns.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from django.core import signing
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactDeleteJob,
    ContactList,
    Suppression,
    SuppressionKind,
    Tag,
    consent_field,
)
from config.signing import signing_dumps

logger = logging.getLogger(__name__)

PHONE_CHANNELS = ("sms", "whatsapp", "voice")


# --- addresses ----------------------------------------------------------------------------------

# Common shapes answered without the general parsers (a CSV import normalizes a million addresses).
# Each fast path accepts only input that the general path accepts and gives the same result;
# anything else goes the long way, so the error messages stay those of the general path.
# tests/audiences/test_address_fast_paths.py checks both against the general path.
_SIMPLE_EMAIL_RE = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@"
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}")


# A plain decimal number: no sign but minus, no leading zeros ("007" is an identifier), no exponent,
# at most 30 characters (longer digit strings are identifiers, and int() refuses 4,300 digits).
NUMBER_RE = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
NUMBER_MAX_LENGTH = 30


def attribute_value(text: str) -> str | int | float:
    """A custom attribute as the contact form and the CSV import store it: a plain decimal number
    ("4000", "12.50") becomes a JSON number, which is what segments' numeric rules compare;
    anything else ("007", "5e3", "pro") stays text."""
    if len(text) <= NUMBER_MAX_LENGTH and NUMBER_RE.match(text):
        return float(text) if "." in text else int(text)
    return text


def email_normalize(value: str) -> str:
    """Lower-cased, stripped address; raises ValueError with a readable reason when invalid."""
    email = (value or "").strip().lower()
    if not email:
        return ""
    # A strict subset of Django's EmailValidator (ASCII dot-atom, hostname labels, letters TLD).
    if len(email) <= 254 and _SIMPLE_EMAIL_RE.fullmatch(email):
        return email
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"“{value.strip()}” is not a valid email address") from None
    return email


_SIMPLE_PHONE_RE = re.compile(r"(\+?)([0-9][0-9 -]*)")


@dataclass(frozen=True)
class _RegionPlan:
    """What phonenumbers' parse() would do with plain digits for one region, precomputed."""

    country_code: str
    idd_prefix: re.Pattern | None
    national_prefix: re.Pattern | None
    # A national prefix that is simply dropped (India's "0"), not rewritten or carrying a carrier code.
    plain_national_prefix: bool
    local_only_lengths: frozenset[int]
    general: tuple[frozenset[int], re.Pattern]
    types: tuple[tuple[frozenset[int], re.Pattern], ...]


def _desc(desc) -> tuple[frozenset[int], re.Pattern] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


@functools.cache
def _region_plan(region: str) -> _RegionPlan | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None or len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, ())) != 1:
        return None  # shared calling codes (+1, +7, +44 ...) need phonenumbers' region lookup
    general = _desc(metadata.general_desc)
    if general is None:
        return None
    # The types and the mobile/fixed-line rule of phonenumbers' _number_type_helper: any match is
    # valid, so the order only decides how soon a number is found. Mobiles first: most imported
    # numbers are mobiles (an Indian mobile was tried against nine patterns before its own).
    descs = [metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail, metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.insert(0, metadata.mobile)
    return _RegionPlan(
        country_code=str(metadata.country_code),
        idd_prefix=re.compile(metadata.international_prefix) if metadata.international_prefix else None,
        national_prefix=(re.compile(metadata.national_prefix_for_parsing)
                         if metadata.national_prefix_for_parsing else None),
        plain_national_prefix=bool(metadata.national_prefix_for_parsing
                                   and re.compile(metadata.national_prefix_for_parsing).groups == 0
                                   and not metadata.national_prefix_transform_rule),
        local_only_lengths=frozenset(metadata.general_desc.possible_length_local_only or ()),
        general=general, types=tuple(d for d in map(_desc, descs) if d is not None))


def _matches(number: str, desc: tuple[frozenset[int], re.Pattern]) -> bool:
    lengths, pattern = desc
    return (not lengths or len(number) in lengths) and pattern.fullmatch(number) is not None


def _phone_fast(raw: str, region: str) -> str | None:
    """E.164 of a valid number of the tenant's own country in a plain shape, else None.

    Plain shape: ASCII digits with spaces or hyphens, optionally after one leading "+" and the
    country code. Anything that phonenumbers would treat specially (an international dialling
    prefix, a national prefix rewritten or carrying a carrier code, the country code without "+", a leading
    zero, a shared calling code) is left to it; a plain national prefix such as India's "0" is
    dropped the way it does."""
    match = _SIMPLE_PHONE_RE.fullmatch(raw)
    plan = _region_plan(region) if match else None
    if plan is None:
        return None
    digits = match[2].replace(" ", "").replace("-", "")
    if match[1]:
        if not digits.startswith(plan.country_code) or len(digits) <= 2:
            return None
        # phonenumbers takes the shortest known calling code: none of ours may be a prefix of it.
        for size in range(1, len(plan.country_code)):
            if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                return None
        national = digits[len(plan.country_code):]
    else:
        if digits.startswith(plan.country_code) or (plan.idd_prefix and plan.idd_prefix.match(digits)):
            return None
        national = digits
    if not 2 <= len(national) <= 17:
        return None
    if plan.national_prefix and (prefix := plan.national_prefix.match(national)):
        # phonenumbers drops the prefix when what is left has a possible length (and is then valid).
        national = national[prefix.end():]
        lengths = plan.general[0]
        if (not plan.plain_national_prefix or not lengths or -1 in lengths or len(national) not in lengths
                or len(national) in plan.local_only_lengths):
            return None
    if not national or national[0] == "0":
        return None
    if _matches(national, plan.general) and any(_matches(national, desc) for desc in plan.types):
        return f"+{plan.country_code}{national}"
    return None


def phone_normalize(value: str, *, region: str) -> str:
    """E.164 form of a phone number written with or without a country code; ValueError if not a number."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if fast := _phone_fast(raw, region):
        return fast
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


def contacts_whatsapp_inbound_record(*, tenant_id: int, seen: dict[str, dt.datetime]) -> int:
    """Record when contacts last wrote to us on WhatsApp ({E.164 phone: when}), which opens the
    24-hour window for session messages. Never moves a stamp backwards (a late, retried webhook
    carries an older time). Returns how many contacts changed."""
    changed = 0
    for phone, at in seen.items():
        if not phone:
            continue
        changed += Contact.objects.filter(tenant_id=tenant_id, phone=phone).filter(
            Q(whatsapp_last_inbound_at__isnull=True) | Q(whatsapp_last_inbound_at__lt=at),
        ).update(whatsapp_last_inbound_at=at)
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
    return signing_dumps({"t": contact.tenant_id, "c": contact.pk.hex, "ch": channel}, salt=_UNSUBSCRIBE_SALT)


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


def contacts_delete_job_start(*, tenant, filter_query: str, user) -> ContactDeleteJob:
    """Queue the deletion of everyone the grid's filter matches now (see ContactDeleteJob)."""
    from audiences.tasks import contacts_delete_job_run_task

    job = ContactDeleteJob.objects.create(tenant=tenant, filter_query=filter_query, created_before=timezone.now(),
                                          created_by=user)
    tenant_id, job_id = tenant.pk, str(job.pk)
    transaction.on_commit(lambda: contacts_delete_job_run_task.delay(tenant_id, job_id))
    return job


def contacts_delete_job_run(*, job: ContactDeleteJob) -> ContactDeleteJob:
    """Delete the job's selection batch by batch, each in its own transaction, so the progress bar
    moves and no lock is held for minutes. A failure stops it with what was deleted so far gone;
    running the job again deletes the rest."""
    from audiences.selectors import contacts_for_filter_query

    if job.status in ContactDeleteJob.FINAL:
        return job
    contacts = contacts_for_filter_query(tenant=job.tenant, filter_query=job.filter_query).filter(
        created_at__lte=job.created_before)
    ContactDeleteJob.objects.filter(pk=job.pk).update(status=ContactDeleteJob.Status.RUNNING,
                                                      started_at=timezone.now(), total=contacts.count())
    last_pk = None
    try:
        while True:
            remaining = contacts if last_pk is None else contacts.filter(pk__gt=last_pk)
            batch = list(remaining.order_by("pk").values_list("pk", flat=True)[:DELETE_BATCH])
            if not batch:
                break
            last_pk = batch[-1]
            with transaction.atomic():
                _, per_model = Contact.objects.filter(pk__in=batch).delete()
                ContactDeleteJob.objects.filter(pk=job.pk).update(
                    deleted=F("deleted") + per_model.get(Contact._meta.label, 0))
    except Exception:
        logger.exception("Bulk delete %s failed", job.pk)
        ContactDeleteJob.objects.filter(pk=job.pk).update(
            status=ContactDeleteJob.Status.FAILED, finished_at=timezone.now(),
            error_message="The delete stopped on an error; the contacts deleted before that are gone.")
    else:
        ContactDeleteJob.objects.filter(pk=job.pk).update(status=ContactDeleteJob.Status.COMPLETED,
                                                          finished_at=timezone.now())
    job.refresh_from_db()
    return job


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
