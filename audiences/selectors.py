"""Reads over audiences: who an audience is, who of them each channel may reach, and how many.

`reachable_q(channel)` is the single definition of "this channel may message this contact":
the address is present, consent allows it (OPT_IN_REQUIRED channels need an explicit opt-in, the
others anything but an opt-out) and the address is not on the tenant's suppression list. The
audience preview, the campaign review and the delivery engine's fan-out all use it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import IContains

from audiences.models import (
    ADDRESS_FIELDS,
    CONSENT_CHANNELS,
    OPT_IN_REQUIRED,
    REACH_BITS,
    ConsentState,
    Contact,
    ContactList,
    PushSubscription,
    Segment,
    Suppression,
    SuppressionKind,
    Tag,
    consent_allows_q,
    consent_field,
)
from audiences.segments import city_q, compile_rules
from audiences.services import email_normalize, phone_normalize
from tenants.models import CHANNEL_LABELS

# Channels the audience preview reports on, in display order.
PREVIEW_CHANNELS = CONSENT_CHANNELS


def address_present_q(channel: str) -> Q:
    if channel == "push":
        return Q(Exists(PushSubscription.objects.filter(contact_id=OuterRef("pk"))))
    return ~Q(**{ADDRESS_FIELDS[channel]: ""})


def not_suppressed_q(channel: str) -> Q:
    if channel == "email":
        kind, column = SuppressionKind.EMAIL, "email"
    elif channel in ("sms", "whatsapp", "voice"):
        kind, column = SuppressionKind.PHONE, "phone"
    else:
        return Q()
    return ~Q(Exists(Suppression.objects.filter(tenant_id=OuterRef("tenant_id"), kind=kind, value=OuterRef(column))))


def reachable_q(channel: str) -> Q:
    return address_present_q(channel) & consent_allows_q(channel) & not_suppressed_q(channel)


# WhatsApp lets a business send free-form "session" messages only within 24 hours of the
# contact's last message to it (channels.providers.meta_whatsapp.SESSION_WINDOW checks the same
# rule again at send time).
WHATSAPP_SESSION_WINDOW = dt.timedelta(hours=24)


def whatsapp_window_open_q(now: dt.datetime) -> Q:
    """Contacts who wrote to us on WhatsApp within the last 24 hours (a session message may reach them)."""
    return Q(whatsapp_last_inbound_at__gt=now - WHATSAPP_SESSION_WINDOW)


def unreachable_reason(contact: Contact, channel: str) -> str:
    """Why one contact is not reachable on a channel ("" when it is); for test sends and detail pages."""
    if channel != "push" and not contact.address_for(channel):
        return "no address"
    state = contact.consent(channel)
    if state == ConsentState.OPTED_OUT:
        return "opted out"
    if channel in OPT_IN_REQUIRED and state != ConsentState.OPTED_IN:
        return "no opt-in"
    if not Contact.objects.filter(pk=contact.pk).filter(reachable_q(channel)).exists():
        return "no push subscription" if channel == "push" else "suppressed"
    return ""


def audience_q(*, everyone: bool = False, segments: Iterable[Segment] = (), lists: Iterable = (),
               tags: Iterable = ()) -> Q | None:
    """The union of the chosen segments, lists and tags as one Q; None when nothing is chosen."""
    if everyone:
        return Q()
    parts: list[Q] = [compile_rules(segment.rules) for segment in segments]
    list_ids = [getattr(item, "pk", item) for item in lists]
    tag_ids = [getattr(item, "pk", item) for item in tags]
    if list_ids:
        through = ContactList.contacts.through
        parts.append(Q(Exists(through.objects.filter(contact_id=OuterRef("pk"), contactlist_id__in=list_ids))))
    if tag_ids:
        through = Contact.tags.through
        parts.append(Q(Exists(through.objects.filter(contact_id=OuterRef("pk"), tag_id__in=tag_ids))))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def audience_queryset(*, tenant_id: int, **choice) -> QuerySet[Contact]:
    q = audience_q(**choice)
    contacts = Contact.objects.filter(tenant_id=tenant_id)
    return contacts.none() if q is None else contacts.filter(q)


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    return Contact.objects.filter(tenant_id=segment.tenant_id).filter(compile_rules(segment.rules))


def audience_counts(contacts: QuerySet[Contact], channels: Iterable[str] = PREVIEW_CHANNELS) -> dict[str, int]:
    """{"total": n, "<channel>": reachable n, ...} in one aggregate query."""
    channels = list(channels)
    if connection.vendor == "postgresql":
        return _audience_counts_joined(contacts, channels)
    aggregates = {"total": Count("pk")}
    for channel in channels:
        aggregates[channel] = Count("pk", filter=reachable_q(channel))
    return contacts.order_by().aggregate(**aggregates)


# --- contacts grid ------------------------------------------------------------------------------
# Keyset pagination on (created_at, id) descending, matching the contact_keyset index: a page is
# an index range scan whatever its depth, where OFFSET would read and discard every earlier row.

GRID_PAGE_SIZE = 50
# Counting stops here: a bounded COUNT over a LIMIT subquery costs the same on a million rows.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Cursor:
    created_at: dt.datetime
    pk: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.pk.hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor | None:
        """The cursor in a next / previous link, or None when it was mangled (then page one shows)."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            stamp, pk = raw.split("|")
            created_at = dt.datetime.fromisoformat(stamp)
            if created_at.tzinfo is None:
                return None
            return cls(created_at=created_at, pk=uuid.UUID(pk))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None

    @classmethod
    def of(cls, row) -> Cursor:
        return cls(created_at=row.created_at, pk=row.pk)


def older_than_q(cursor: Cursor) -> Q:
    # created_at <= c bounds the index range; the OR breaks ties on id.
    return Q(created_at__lte=cursor.created_at) & (Q(created_at__lt=cursor.created_at) | Q(pk__lt=cursor.pk))


def newer_than_q(cursor: Cursor) -> Q:
    return Q(created_at__gte=cursor.created_at) & (Q(created_at__gt=cursor.created_at) | Q(pk__gt=cursor.pk))


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str = ""
    prev_cursor: str = ""


def keyset_page(queryset: QuerySet, *, after: str = "", before: str = "", size: int = GRID_PAGE_SIZE,
                few: bool = False) -> KeysetPage:
    """One page of `queryset` (any model with created_at and a UUID pk), newest first.

    `after` continues towards older rows, `before` goes back towards newer ones; a page knows it
    has a neighbour by fetching one row more than it shows.

    few=True when the caller knows the queryset is small (count_capped was exact): the rows are
    then found through the filter's own indexes and sorted, instead of walking the keyset index
    until a page is full. A rare search fragment that the planner believes common (a trigram
    LIKE is estimated at a few percent) would otherwise read every contact looking for a page."""
    # COALESCE(x, x) sorts like x, but no index matches it.
    created = Coalesce("created_at", "created_at") if few else F("created_at")
    newest_first = queryset.order_by(created.desc(), "-pk")
    before_cursor = Cursor.decode(before) if before else None
    after_cursor = Cursor.decode(after) if after and not before_cursor else None
    if before_cursor:
        rows = list(queryset.filter(newer_than_q(before_cursor)).order_by(created.asc(), "pk")[: size + 1])
        has_more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(rows=rows, next_cursor=Cursor.of(rows[-1]).encode() if rows else before,
                          prev_cursor=Cursor.of(rows[0]).encode() if rows and has_more_newer else "")
    if after_cursor:
        newest_first = newest_first.filter(older_than_q(after_cursor))
    rows = list(newest_first[: size + 1])
    has_more_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, next_cursor=Cursor.of(rows[-1]).encode() if has_more_older else "",
                      prev_cursor=Cursor.of(rows[0]).encode() if rows and after_cursor else "")


def count_capped(queryset: QuerySet, *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact): the count up to `cap` rows, so a page view never counts a whole big table."""
    n = queryset.order_by()[: cap + 1].count()
    return min(n, cap), n <= cap


PHONE_LIKE_RE = re.compile(r"[\d\s()+./-]+")


def search_q(text: str, *, region: str = "") -> Q:
    """What the grid's search box means.

    A whole phone number (in any format the workspace's region reads) or a whole email address
    is an exact match on the unique indexes, instant at a million rows. A fragment of a number
    matches phones by its digits ("98123 45678" finds +919812345678); other words must each match
    a name, the email or the phone. On PostgreSQL both fragment searches use the one trigram index
    of SearchText (migration 0012).
    """
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if PHONE_LIKE_RE.fullmatch(text) and len(digits) >= 3:
        if region:
            try:
                return Q(phone=phone_normalize(text, region=region)) & ~Q(phone="")
            except ValueError:
                pass  # a fragment of a number
        # The trigram index serves the first condition; the second keeps the meaning exact (the
        # digits may also be in an email address).
        return Q(IContains(SearchText(), digits)) & Q(phone__contains=digits)
    if " " not in text and "@" in text:
        try:
            return Q(email=email_normalize(text)) & ~Q(email="")
        except ValueError:
            pass  # part of an address
    q = Q()
    for word in text.split():
        # A word has no spaces, so it is in one of the four columns exactly when it is in the
        # four joined by spaces; that expression has one trigram index (migration 0012).
        q &= Q(IContains(SearchText(), word))
    return q


class SearchText(Func):
    """first_name, last_name, email and phone joined by spaces: what a grid search word is matched
    against.

    On PostgreSQL, `UPPER(<this>::text) LIKE UPPER('%word%')` (Django's icontains) is served by the
    GIN trigram index contact_search_all_trgm, whose expression must stay exactly this one (one
    index instead of one for names and email and one for phones: an import writes each new
    contact into every index)."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = CharField()

    def __init__(self):
        super().__init__(F("first_name"), F("last_name"), F("email"), F("phone"))


def contacts_filtered(*, tenant_id: int, q: str = "", region: str = "", role: str = "", city: str = "", tag=None, contact_list=None,
                      consent_channel: str = "", consent_state: str = "", reachable: str = "") -> QuerySet[Contact]:
    """The grid's query: one filtered queryset, no Python filtering."""
    contacts = Contact.objects.filter(tenant_id=tenant_id)
    if q.strip():
        contacts = contacts.filter(search_q(q, region=region))
    if role:
        contacts = contacts.filter(role=role)
    if city.strip():
        contacts = contacts.filter(city_q([city.strip()]))
    if tag is not None:
        through = Contact.tags.through
        contacts = contacts.filter(Exists(through.objects.filter(contact_id=OuterRef("pk"), tag_id=tag.pk)))
    if contact_list is not None:
        through = ContactList.contacts.through
        contacts = contacts.filter(Exists(through.objects.filter(contact_id=OuterRef("pk"),
                                                                 contactlist_id=contact_list.pk)))
    if consent_channel and consent_state:
        contacts = contacts.filter(**{consent_field(consent_channel): consent_state})
    if reachable:
        contacts = contacts.filter(reachable_q(reachable))
    return contacts


def contacts_for_filter_query(*, tenant, filter_query: str) -> QuerySet[Contact]:
    """The grid's selection for an urlencoded filter (what a bulk action saw), as contacts_filtered."""
    from django.http import QueryDict

    from audiences.forms import GridFilterForm

    form = GridFilterForm(QueryDict(filter_query), tenant=tenant)
    form.is_valid()  # a tag or list deleted since is simply no filter, as on the grid
    return contacts_filtered(tenant_id=tenant.pk, region=tenant.default_phone_region, **form.selector_kwargs())


def tags_with_counts(*, tenant_id: int) -> QuerySet[Tag]:
    return Tag.objects.filter(tenant_id=tenant_id).annotate(contact_count=Count("contacts")).order_by(Lower("name"))


def lists_with_counts(*, tenant_id: int) -> QuerySet[ContactList]:
    return ContactList.objects.filter(tenant_id=tenant_id).annotate(contact_count=Count("contacts")).order_by(
        Lower("name"))


def contact_consent_rows(contact: Contact) -> list[dict]:
    """Per channel: current state, its address and, when not reachable, why."""
    return [{"channel": channel, "label": CHANNEL_LABELS[channel], "state": contact.consent(channel),
             "state_label": ConsentState(contact.consent(channel)).label,
             "address": contact.address_for(channel), "unreachable": unreachable_reason(contact, channel)}
            for channel in CONSENT_CHANNELS]
def _audience_counts_joined(contacts: QuerySet[Contact], channels: list[str]) -> dict[str, int]:
    """audience_counts from Contact.reach and Contact.suppressed: one GROUP BY over the audience.

    reachable_q as written (correlated EXISTS inside COUNT(...) FILTER) costs an index probe per
    contact and channel, seconds at a million contacts. Here its contact-local part (address
    present, consent allows) is the stored `reach` bit mask and its suppression part the
    trigger-kept `suppressed` mask, so the per-channel counts are one GROUP BY over two small
    columns ("everyone" is an index-only scan of (tenant, reach, suppressed)). The rules are
    reachable_q's (tests/audiences/test_segments_property.py compares the two on random data).
    """
    try:
        inner_sql, inner_params = contacts.order_by().values("reach", "suppressed").query.sql_with_params()
    except EmptyResultSet:  # an audience that can match nobody (e.g. contacts.none())
        return dict.fromkeys(["total", *channels], 0)
    with transaction.atomic(), connection.cursor() as cursor:
        # A preview is a short query whose cost estimate at a million rows crosses jit_above_cost;
        # compiling it takes longer than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"SELECT c.reach, c.suppressed, COUNT(*) FROM ({inner_sql}) c GROUP BY c.reach, c.suppressed",
                       inner_params)
        groups = cursor.fetchall()
    counts = {"total": sum(n for _, _, n in groups)}
    for channel in channels:
        bit = REACH_BITS[channel]
        counts[channel] = sum(n for mask, suppressed, n in groups if mask & ~suppressed & bit)
    return counts
