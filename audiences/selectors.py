"""Reads over audiences: who an audience is, who of them each channel may reach, and how many.

`reachable_q(channel)` is the single definition of "this channel may message this contact":
the address is present, consent allows it (OPT_IN_REQUIRED channels need an explicit opt-in, the
others anything but an opt-out) and the address is not on the tenant's suppression list. The
audience preview, the campaign review and the delivery engine's fan-out all use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from audiences.models import (
    CONSENT_CHANNELS,
    OPT_IN_REQUIRED,
    ConsentState,
    Contact,
    ContactList,
    PushSubscription,
    Segment,
    Suppression,
    SuppressionKind,
    consent_field,
)
from audiences.segments import compile_rules
from tenants.scoping import current_tenant_id

# Channels the audience preview reports on, in display order.
PREVIEW_CHANNELS = CONSENT_CHANNELS


def consent_allows_q(channel: str) -> Q:
    field = consent_field(channel)
    if channel in OPT_IN_REQUIRED:
        return Q(**{field: ConsentState.OPTED_IN})
    return ~Q(**{field: ConsentState.OPTED_OUT})


def address_present_q(channel: str) -> Q:
    if channel == "push":
        return Q(Exists(PushSubscription.objects.filter(contact_id=OuterRef("pk"))))
    column = {"email": "email", "sms": "phone", "whatsapp": "phone", "voice": "phone",
              "telegram": "telegram_chat_id"}[channel]
    return ~Q(**{column: ""})


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
    tenant_id = current_tenant_id()
    if connection.vendor == "postgresql" and tenant_id is not None:
        return _audience_counts_joined(contacts, channels, tenant_id)
    aggregates = {"total": Count("pk")}
    for channel in channels:
        aggregates[channel] = Count("pk", filter=reachable_q(channel))
    return contacts.order_by().aggregate(**aggregates)


def _audience_counts_joined(contacts: QuerySet[Contact], channels: list[str], tenant_id: int) -> dict[str, int]:
    """audience_counts as joins instead of reachable_q's correlated EXISTS.

    Inside COUNT(...) FILTER the planner cannot turn EXISTS into a join, so reachable_q costs
    one index probe per contact and channel (seconds at a million contacts) and its inflated
    cost estimate switches on JIT compilation (another 0.1-3 s). Here suppressions and push
    subscriptions are hash-joined once; the rules are the same as reachable_q's (tested
    against it in tests/audiences/test_segments_rules.py).
    """
    columns = ["id", "email", "phone", "telegram_chat_id", *(consent_field(c) for c in channels)]
    inner_sql, inner_params = contacts.order_by().values(*columns).query.sql_with_params()
    address = {"email": "c.email <> ''", "sms": "c.phone <> ''", "whatsapp": "c.phone <> ''",
               "voice": "c.phone <> ''", "telegram": "c.telegram_chat_id <> ''", "push": "ps.contact_id IS NOT NULL"}
    not_suppressed = {"email": "se.value IS NULL", "sms": "sp.value IS NULL", "whatsapp": "sp.value IS NULL",
                      "voice": "sp.value IS NULL"}
    selects, params = ["COUNT(*)"], []
    for channel in channels:
        consent = f"c.{consent_field(channel)}"
        allows = f"{consent} = %s" if channel in OPT_IN_REQUIRED else f"{consent} <> %s"
        params.append(ConsentState.OPTED_IN if channel in OPT_IN_REQUIRED else ConsentState.OPTED_OUT)
        conditions = [address[channel], allows, not_suppressed.get(channel, "TRUE")]
        selects.append(f"COUNT(*) FILTER (WHERE {' AND '.join(conditions)})")
    joins, join_params = [], []
    if "email" in channels:
        joins.append(f"LEFT JOIN {Suppression._meta.db_table} se ON se.tenant_id = %s AND se.kind = %s "
                     "AND se.value = c.email")
        join_params += [tenant_id, SuppressionKind.EMAIL]
    if set(channels) & {"sms", "whatsapp", "voice"}:
        joins.append(f"LEFT JOIN {Suppression._meta.db_table} sp ON sp.tenant_id = %s AND sp.kind = %s "
                     "AND sp.value = c.phone")
        join_params += [tenant_id, SuppressionKind.PHONE]
    if "push" in channels:
        # Grouped first: a contact with two browsers is still one contact.
        joins.append(f"LEFT JOIN (SELECT contact_id FROM {PushSubscription._meta.db_table} WHERE tenant_id = %s "
                     "AND contact_id IS NOT NULL GROUP BY contact_id) ps ON ps.contact_id = c.id")
        join_params.append(tenant_id)
    sql = f"SELECT {', '.join(selects)} FROM ({inner_sql}) c {' '.join(joins)}"
    with transaction.atomic(), connection.cursor() as cursor:
        # A preview is a short query whose cost estimate at a million rows crosses jit_above_cost;
        # compiling it takes longer than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, [*params, *inner_params, *join_params])
        row = cursor.fetchone()
    return dict(zip(["total", *channels], row, strict=True))
