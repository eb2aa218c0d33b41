"""What lets contacts into a drip or triggered campaign.

- Segment entry: the trigger remembers who was in the segment (TriggerMembership). A check
  (beat, every minute; and for one contact when it changes) enters the newcomers and forgets
  those who left, so "every time" means every time a contact comes back into the segment. Both
  halves are set-based statements over the segment's compiled Q.
- Event: POST /api/v1/events records a ContactEvent and enters the contact into each active
  campaign waiting for that event whose property filter matches.
- Date attribute: a birthday or anniversary (a "YYYY-MM-DD" custom attribute, or the contact's
  creation date), shifted by days_offset, at a local time of day in the contact's own zone. The
  check runs every few minutes and enters whoever's local date and time have come and who has
  not entered for this occasion yet (nobody enters twice within two days).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from audiences.models import Contact, Segment
from audiences.segments import ATTRIBUTE_KEY_RE, compile_rules
from campaigns.journeys.engine import journeys_advance_soon, journeys_enter, planner_stats_refresh
from campaigns.models import (
    CREATED_DATE,
    Campaign,
    CampaignStatus,
    CampaignTrigger,
    CampaignType,
    ContactEvent,
    EntryFrequency,
    Journey,
    TriggerKind,
    TriggerMembership,
)

EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
FILTER_OPS = ("equals", "not_equals", "contains", "gt", "gte", "lt", "lte", "exists")
DATE_REENTRY_GUARD = dt.timedelta(days=2)


# --- validation ---------------------------------------------------------------------------------

def trigger_errors(trigger: CampaignTrigger | None) -> list[str]:
    if trigger is None:
        return ["Choose what starts the campaign (a segment, an event or a date)."]
    problems: list[str] = []
    if trigger.kind == TriggerKind.SEGMENT_ENTRY and trigger.segment_id is None:
        problems.append("Choose the segment whose new members enter the campaign.")
    if trigger.kind == TriggerKind.EVENT:
        if not EVENT_NAME_RE.match(trigger.event_name or ""):
            problems.append("Name the event (letters, digits, _ . : -), e.g. cart_abandoned.")
        problems.extend(event_filter_errors(trigger.event_filter))
    if trigger.kind == TriggerKind.DATE_ATTRIBUTE:
        if trigger.date_attribute != CREATED_DATE and not re.match(ATTRIBUTE_KEY_RE, trigger.date_attribute or ""):
            problems.append("Choose the date attribute (e.g. birthday) or the contact's creation date.")
    if trigger.frequency == EntryFrequency.INTERVAL and not trigger.frequency_days:
        problems.append("Say how many days must pass before a contact may enter again.")
    return problems


def event_filter_errors(rules: Any) -> list[str]:
    if not isinstance(rules, list):
        return ["The event filter must be a list of property tests."]
    problems = []
    for rule in rules:
        if not isinstance(rule, dict) or not rule.get("key") or rule.get("op") not in FILTER_OPS:
            problems.append(f"Each property test needs a key and one of: {', '.join(FILTER_OPS)}.")
        elif rule["op"] in ("gt", "gte", "lt", "lte") and _number(rule.get("value")) is None:
            problems.append(f"“{rule['key']}” {rule['op']}: give a number.")
    return problems


# --- events -------------------------------------------------------------------------------------

def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def event_matches(rules: list[dict], properties: dict[str, Any]) -> bool:
    """All the trigger's property tests hold for this one event (numbers compare as numbers)."""
    for rule in rules or []:
        key, op, expected = rule.get("key"), rule.get("op"), rule.get("value")
        present = key in properties and properties[key] is not None
        actual = properties.get(key)
        if op == "exists":
            ok = present
        elif not present:
            ok = op == "not_equals"
        elif op in ("equals", "not_equals"):
            same = str(actual).strip().lower() == str(expected).strip().lower()
            ok = same if op == "equals" else not same
        elif op == "contains":
            ok = str(expected).lower() in str(actual).lower()
        else:
            a, b = _number(actual), _number(expected)
            ok = a is not None and b is not None and {
                "gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
        if not ok:
            return False
    return True


def event_record(*, contact: Contact, name: str, properties: dict[str, Any],
                 occurred_at: dt.datetime | None = None) -> tuple[ContactEvent, int]:
    """Store the event and start the journeys it triggers; returns (event, journeys started)."""
    now = timezone.now()
    with transaction.atomic():
        event = ContactEvent.objects.create(tenant_id=contact.tenant_id, contact=contact, name=name,
                                            properties=properties, occurred_at=occurred_at or now)
        started = 0
        triggers = CampaignTrigger.objects.filter(
            kind=TriggerKind.EVENT, event_name__iexact=name, campaign__status=CampaignStatus.ACTIVE,
            campaign__archived_at__isnull=True,
        ).exclude(campaign__type=CampaignType.BROADCAST).select_related("campaign", "campaign__tenant")
        for trigger in triggers:
            if not event_matches(trigger.event_filter, properties):
                continue
            started += journeys_enter(campaign=trigger.campaign, contacts=Contact.objects.filter(pk=contact.pk),
                                      now=now, source=f"event:{name}"[:80], event_id=event.pk)
    return event, started


# --- segment entry ------------------------------------------------------------------------------

def segment_entries_check(*, campaign: Campaign, contact_ids: list | None = None,
                          now: dt.datetime | None = None) -> int:
    """Enter the segment's newcomers (all of them, or only `contact_ids`) and forget leavers."""
    now = now or timezone.now()
    with transaction.atomic():
        # One check per campaign at a time: the membership diff must not be computed twice.
        trigger = CampaignTrigger.objects.select_for_update().filter(campaign=campaign).first()
        if trigger is None or trigger.kind != TriggerKind.SEGMENT_ENTRY or trigger.segment_id is None:
            return 0
        segment = Segment.objects.filter(pk=trigger.segment_id).first()
        if segment is None:
            return 0
        members = Contact.objects.filter(tenant_id=campaign.tenant_id).filter(compile_rules(segment.rules, now=now))
        memberships = TriggerMembership.objects.filter(campaign=campaign)
        if contact_ids is not None:
            members = members.filter(pk__in=contact_ids)
            memberships = memberships.filter(contact_id__in=contact_ids)
        memberships.exclude(contact_id__in=members.values("pk")).delete()
        newcomers = members.filter(~Exists(TriggerMembership.objects.filter(campaign=campaign,
                                                                            contact_id=OuterRef("pk"))))
        campaign.trigger = trigger
        started = journeys_enter(campaign=campaign, contacts=newcomers, now=now, source="segment")
        _remember(campaign, newcomers)
    return started


def _remember(campaign: Campaign, contacts: QuerySet[Contact]) -> None:
    select_sql, params = contacts.values("id").order_by().query.sql_with_params()
    table = TriggerMembership._meta.db_table
    campaign_id = TriggerMembership._meta.get_field("campaign").get_db_prep_value(campaign.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (tenant_id, campaign_id, contact_id) "
                       f"SELECT %s, %s, a.id FROM ({select_sql}) a WHERE true ON CONFLICT DO NOTHING",
                       [campaign.tenant_id, campaign_id, *params])
        added = cursor.rowcount
    planner_stats_refresh(TriggerMembership, added)


def segment_triggered_campaigns(tenant_id: int) -> QuerySet[Campaign]:
    return Campaign.objects.filter(tenant_id=tenant_id, status=CampaignStatus.ACTIVE, archived_at__isnull=True,
                                   trigger__kind=TriggerKind.SEGMENT_ENTRY).exclude(type=CampaignType.BROADCAST)


def contact_changed(*, contact_id, tenant_id: int) -> int:
    """A contact was saved: check it against every active segment trigger of its tenant."""
    return sum(segment_entries_check(campaign=c, contact_ids=[contact_id])
               for c in segment_triggered_campaigns(tenant_id).select_related("tenant"))


# --- date attributes ----------------------------------------------------------------------------

def _column(name: str) -> str:
    return f'"{Contact._meta.db_table}"."{name}"'


def _local_now_sql() -> str:
    return f"(%s::timestamptz AT TIME ZONE COALESCE(NULLIF({_column('timezone')}, ''), %s))"


def _date_hits_postgres(trigger: CampaignTrigger, now: dt.datetime, tenant_tz: str) -> RawSQL:
    """True for contacts whose occasion (date + offset) is today, local, and whose local time has come."""
    local_now = _local_now_sql()
    occasion = f"({local_now} - make_interval(days => %s))"
    if trigger.date_attribute == CREATED_DATE:
        month_day = (f"to_char({_column('created_at')} AT TIME ZONE COALESCE(NULLIF({_column('timezone')}, ''), %s), "
                     "'MM-DD')")
        md_params: list = [tenant_tz]
        guard, guard_params = "true", []
    else:
        month_day = f"substring({_column('attributes')}->>%s from 6 for 5)"
        md_params = [trigger.date_attribute]
        guard = f"({_column('attributes')}->>%s) ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'"
        guard_params = [trigger.date_attribute]
    # A 29 February date is celebrated on 28 February in common years.
    sql = f"""
        {guard}
        AND {local_now}::time >= %s
        AND ({month_day} = to_char({occasion}, 'MM-DD')
             OR ({month_day} = '02-29' AND to_char({occasion}, 'MM-DD') = '02-28'
                 AND to_char({occasion} + interval '1 day', 'MM-DD') = '03-01'))
    """
    occ = [now, tenant_tz, trigger.days_offset]
    params = [*guard_params, now, tenant_tz, trigger.time_of_day, *md_params, *occ, *md_params, *occ, *occ]
    return RawSQL(sql, params, output_field=BooleanField())


def _date_hits_python(trigger: CampaignTrigger, contacts: QuerySet[Contact], now: dt.datetime, tenant) -> list:
    """The same test in Python, for the single-machine SQLite mode (no AT TIME ZONE there)."""
    import zoneinfo

    hits = []
    for pk, tz_name, attributes, created_at in contacts.values_list("pk", "timezone", "attributes", "created_at"):
        try:
            tz = zoneinfo.ZoneInfo(tz_name) if tz_name else tenant.tzinfo
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = tenant.tzinfo
        local = now.astimezone(tz)
        if local.time() < trigger.time_of_day:
            continue
        if trigger.date_attribute == CREATED_DATE:
            month_day = created_at.astimezone(tz).strftime("%m-%d")
        else:
            value = str((attributes or {}).get(trigger.date_attribute) or "")
            if not re.match(r"^\d{4}-\d{2}-\d{2}", value):
                continue
            month_day = value[5:10]
        occasion = (local - dt.timedelta(days=trigger.days_offset)).date()
        leap_fallback = occasion.strftime("%m-%d") == "02-28" and (occasion + dt.timedelta(days=1)).month == 3
        if month_day == occasion.strftime("%m-%d") or (month_day == "02-29" and leap_fallback):
            hits.append(pk)
    return hits


def date_entries_check(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    trigger = CampaignTrigger.objects.filter(campaign=campaign).first()
    if trigger is None or trigger.kind != TriggerKind.DATE_ATTRIBUTE or not trigger.date_attribute:
        return 0
    campaign.trigger = trigger
    recent = Journey.objects.filter(campaign_id=campaign.pk, contact_id=OuterRef("pk"),
                                    entered_at__gt=now - DATE_REENTRY_GUARD)
    contacts = Contact.objects.filter(tenant_id=campaign.tenant_id).filter(~Exists(recent))
    if trigger.date_attribute != CREATED_DATE:
        contacts = contacts.filter(attributes__has_key=trigger.date_attribute)
    if connection.vendor == "postgresql":
        contacts = contacts.alias(date_hit=_date_hits_postgres(trigger, now, campaign.tenant.timezone)).filter(
            date_hit=True)
    else:
        contacts = Contact.objects.filter(pk__in=_date_hits_python(trigger, contacts, now, campaign.tenant))
    return journeys_enter(campaign=campaign, contacts=contacts, now=now, source=f"date:{trigger.date_attribute}")


def campaign_triggers_check(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """The periodic check for one campaign (segment or date trigger); events need no polling."""
    trigger = CampaignTrigger.objects.filter(campaign=campaign).first()
    if trigger is None or campaign.status != CampaignStatus.ACTIVE:
        return 0
    if trigger.kind == TriggerKind.SEGMENT_ENTRY:
        return segment_entries_check(campaign=campaign, now=now)
    if trigger.kind == TriggerKind.DATE_ATTRIBUTE:
        return date_entries_check(campaign=campaign, now=now)
    return 0


def campaigns_to_check() -> list[tuple[int, str]]:
    """(tenant id, campaign id) of active campaigns whose triggers need polling; across tenants."""
    from tenants.scoping import scopes_disabled

    with scopes_disabled():
        rows = (Campaign.objects.filter(status=CampaignStatus.ACTIVE, archived_at__isnull=True,
                                        trigger__kind__in=(TriggerKind.SEGMENT_ENTRY, TriggerKind.DATE_ATTRIBUTE))
                .exclude(type=CampaignType.BROADCAST).values_list("tenant_id", "pk"))
        return [(tenant_id, str(pk)) for tenant_id, pk in rows]


__all__ = ["campaign_triggers_check", "contact_changed", "event_matches", "event_record", "journeys_advance_soon",
           "trigger_errors"]
