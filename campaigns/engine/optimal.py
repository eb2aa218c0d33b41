"""Optimal send time: each recipient gets the message at the local hour they engaged most.

Nightly, `send_times_refresh` turns the last 90 days of opens, clicks and replies into one
ContactSendTime row per contact with enough history (one INSERT ... SELECT per time zone: the
hour is extracted in the contact's own zone by the database). At fan-out, `optimal_apply` sets
each pending delivery's not_before to the next occurrence of its contact's hour within the
campaign's window, with one UPDATE per (time zone, hour) group, never one per contact. Contacts
with too little history get the audience-wide best hour, and with none at all the tenant's
default hour. Calling hours still apply at dispatch.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, ExtractHour, NullIf
from django.utils import timezone

from audiences.models import Contact
from campaigns.models import Campaign, CampaignRun, ContactSendTime, Delivery, DeliveryStatus

HISTORY_DAYS = 90
MIN_SAMPLES = 3


def _engaged_at():
    return Coalesce("read_at", "clicked_at", "replied_at")


def send_times_refresh(*, tenant, now: dt.datetime | None = None) -> int:
    """Recompute every contact's best hour for one tenant; returns how many contacts have one."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=HISTORY_DAYS)
    table = ContactSendTime._meta.db_table
    zones = set(Contact.objects.filter(tenant=tenant).values_list("timezone", flat=True).distinct())
    with transaction.atomic():
        ContactSendTime.objects.filter(tenant=tenant).delete()
        for zone in zones:
            tz = _zone(zone or tenant.timezone, tenant)
            hours = (
                Delivery.objects.filter(tenant=tenant, is_test=False, contact__timezone=zone,
                                        sent_at__gte=since)
                .filter(Q(read_at__isnull=False) | Q(clicked_at__isnull=False) | Q(replied_at__isnull=False))
                .annotate(hour=ExtractHour(_engaged_at(), tzinfo=tz))
                .values("contact_id", "hour")
                .annotate(n=Count("id"))
                .order_by()
            )
            sql, params = hours.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""INSERT INTO {table} (tenant_id, contact_id, best_hour, samples, computed_at)
                        SELECT %s, r.contact_id, r.hour, r.total, %s FROM (
                            SELECT g.contact_id, g.hour, SUM(g.n) OVER (PARTITION BY g.contact_id) AS total,
                                   ROW_NUMBER() OVER (PARTITION BY g.contact_id ORDER BY g.n DESC, g.hour) AS rk
                            FROM ({sql}) g
                        ) r
                        WHERE r.rk = 1 AND r.total >= %s""",
                    [tenant.pk, ContactSendTime._meta.get_field("computed_at").get_db_prep_save(now, connection),
                     *params, MIN_SAMPLES],
                )
    return ContactSendTime.objects.filter(tenant=tenant).count()


def _zone(name: str, tenant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return tenant.tzinfo


def next_local_hour(now: dt.datetime, tz: zoneinfo.ZoneInfo, hour: int) -> dt.datetime:
    """The next HH:00 local (today or tomorrow), as an aware UTC time; wall-clock, DST-correct."""
    local = now.astimezone(tz)
    candidate = dt.datetime.combine(local.date(), dt.time(hour)).replace(tzinfo=tz)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(hour)).replace(tzinfo=tz)
    return candidate.astimezone(dt.UTC)


def audience_best_hour(run: CampaignRun) -> int | None:
    """The hour most of this run's engaged contacts prefer (weighted by their engagements)."""
    rows = (ContactSendTime.objects.filter(contact__deliveries__run=run).values("best_hour")
            .annotate(weight=Count("id")).order_by("-weight", "best_hour"))
    first = rows.first()
    return first["best_hour"] if first else None


def optimal_hour_distribution(*, tenant, contacts) -> list[int]:
    """How many of `contacts` would get the message at each local hour (24 buckets), for the review."""
    known = Counter(dict(ContactSendTime.objects.filter(contact__in=contacts).values("best_hour")
                         .annotate(n=Count("id")).values_list("best_hour", "n")))
    fallback = max(known, key=lambda h: (known[h], -h)) if known else tenant.default_send_hour
    unknown = contacts.count() - sum(known.values())
    buckets = [known.get(h, 0) for h in range(24)]
    buckets[fallback] += unknown
    return buckets


def optimal_apply(*, run: CampaignRun, now: dt.datetime | None = None) -> int:
    """Give each pending delivery of an optimal-time run its contact's not_before; returns rows set."""
    now = now or timezone.now()
    campaign: Campaign = run.campaign
    tenant = campaign.tenant
    window_end = now + dt.timedelta(hours=campaign.optimal_window_hours)
    fallback_hour = audience_best_hour(run)
    if fallback_hour is None:
        fallback_hour = tenant.default_send_hour
    pending = Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING, contact__isnull=False)
    best = ContactSendTime.objects.filter(contact_id=OuterRef("contact_id")).values("best_hour")[:1]
    groups = (pending.annotate(zone=Coalesce(NullIf("contact__timezone", Value("")), Value(tenant.timezone)),
                               hour=Coalesce(Subquery(best), Value(fallback_hour)))
              .values_list("zone", "hour").distinct().order_by())
    updated = 0
    with transaction.atomic():
        for zone, hour in list(groups):
            when = next_local_hour(now, _zone(zone, tenant), hour)
            if when > window_end:
                when = now  # the hour does not come round inside the window: send now
            in_zone = Q(contact__timezone=zone)
            if zone == tenant.timezone:
                in_zone |= Q(contact__timezone="")  # contacts without a zone live in the tenant's
            has_best = Q(contact__send_time__best_hour=hour)
            no_best = Q(contact__send_time__isnull=True)
            rows = pending.filter(in_zone).filter(has_best | no_best if hour == fallback_hour else has_best)
            updated += rows.update(not_before=when)
    return updated
