"""Dispatch: claim a batch, hold it to calling hours and budget, send it, write the outcome back.

Per batch (hundreds of deliveries, one task loop):
1. tokens from the shared Redis limiter (the channel config's rate and the campaign's throttle,
   taken together so the lowest wins), one round trip for the whole batch;
2. claim that many due pending rows (pending -> sending, claimed_at) with FOR UPDATE SKIP LOCKED,
   so two dispatchers never take the same row;
3. rows outside calling hours go back to pending with not_before = the window's next opening
   (in the recipient's time zone, or the campaign's fixed one);
4. budget: the channel's allocation is reserved with a locked row; once spent, what remains of
   the channel becomes skipped with reason "budget";
5. one adapter.send() call; the outcome is written with one conditional UPDATE (only rows still
   claimed by this batch), counters in the same transaction.
Crash safety: a worker that dies between 2 and 5 leaves rows in "sending"; the reaper
(scheduler.py) returns them to pending after ENGINE_CLAIM_TIMEOUT_SECONDS, so a message may be sent twice only
if it was in flight during a crash, never lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    DateTimeField,
    F,
    Model,
    Value,
    When,
)
from django.db.models.base import ModelState
from django.urls import reverse
from django.utils import timezone

from analytics.tracking import tracking_apply
from audiences.services import unsubscribe_token
from campaigns.content import EmailContent, content_for
from campaigns.engine.email_batch import EmailShape, NotBatchable
from campaigns.engine.moved import moved_announce, moved_outcome, moved_readdress
from campaigns.media import media_public_url
from campaigns.models import (
    ACCEPTED_STATUSES,
    CallingHoursMode,
    Campaign,
    CampaignRun,
    CampaignType,
    ChannelBudget,
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    RunStatus,
    SkipReason,
    step_number_of,
)
from campaigns.rendering import contact_context
from campaigns.selectors import campaign_channel_config
from channels import ratelimit
from channels.base import Media, OutboundMessage, ProviderError, SendResult, TemplateRef
from channels.selectors import channel_adapter
from channels.signals import recipient_suppressed

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # claims per batch (the most a crash can leave in flight per dispatcher)
MAX_BATCH_SIZE = 1000  # SendGrid: up to 1,000 personalizations in one request
MAX_ATTEMPTS = 5  # transient failures before a delivery fails for good
# Marketing SMS and calls only between 08:00 and 21:00 recipient-local (TCPA) unless the campaign
# sets its own window.
DEFAULT_CALLING_HOURS = {"sms": (dt.time(8), dt.time(21)), "voice": (dt.time(8), dt.time(21))}


@dataclass
class BatchOutcome:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    skipped: int = 0


# --- calling hours ------------------------------------------------------------------------------

def calling_window(campaign: Campaign, channel: str) -> tuple[dt.time, dt.time] | None:
    if campaign.calling_hours_start and campaign.calling_hours_end:
        return campaign.calling_hours_start, campaign.calling_hours_end
    return DEFAULT_CALLING_HOURS.get(channel)


def next_allowed_time(now: dt.datetime, tz: zoneinfo.ZoneInfo, window: tuple[dt.time, dt.time]) -> dt.datetime | None:
    """None when `now` is inside [start, end) local time; else the next opening, as an aware UTC time."""
    start, end = window
    local = now.astimezone(tz)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)  # windows may wrap midnight
    if inside:
        return None
    day = local.date() if t < start else local.date() + dt.timedelta(days=1)
    # Built from the wall clock and localized, so a daylight-saving change between now and then
    # still opens at 08:00 local; fold=0 picks the first of a repeated hour.
    opening = dt.datetime.combine(day, start).replace(tzinfo=tz)
    return opening.astimezone(dt.UTC)


def _recipient_tz(campaign: Campaign, delivery: Delivery) -> zoneinfo.ZoneInfo:
    if campaign.calling_hours_mode == CallingHoursMode.FIXED and campaign.calling_hours_timezone:
        return zoneinfo.ZoneInfo(campaign.calling_hours_timezone)
    name = (delivery.contact.timezone if delivery.contact else "") or campaign.tenant.timezone
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return campaign.tenant.tzinfo


# --- claiming -----------------------------------------------------------------------------------

def deliveries_claim(*, run: CampaignRun, channel: str, limit: int, now: dt.datetime, after: int = 0) -> list[int]:
    """Take up to `limit` due pending deliveries (pending -> sending); never the same row twice.

    `after`: only ids above it (the dispatcher's position in the run). Without it every claim
    walked the pending index from the run's first row, through the entries of rows already sent,
    which stay in the index until vacuum can remove them (never, while any long transaction on
    the server holds back the cleanup horizon): claims slowed down as the run progressed.
    """
    table = Delivery._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    run_id = Delivery._meta.get_field("run").get_db_prep_value(run.pk, connection)
    now_db = Delivery._meta.get_field("claimed_at").get_db_prep_value(now, connection)
    # The picked ids are materialized once: with `WHERE id IN (SELECT ... LIMIT n SKIP LOCKED)`
    # PostgreSQL may re-run the subquery and claim far more than n rows.
    materialized = "MATERIALIZED" if connection.vendor == "postgresql" else ""
    sql = f"""
        WITH picked AS {materialized} (
            SELECT id FROM {table}
            WHERE run_id = %s AND channel = %s AND status = %s AND id > %s
              AND (not_before IS NULL OR not_before <= %s)
            ORDER BY id LIMIT %s {lock}
        )
        UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1
        FROM picked
        WHERE {table}.id = picked.id AND {table}.status = %s
        RETURNING {table}.id
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [run_id, channel, DeliveryStatus.PENDING.value, after, now_db, limit,
                             DeliveryStatus.SENDING.value, now_db, DeliveryStatus.PENDING.value])
        return sorted(row[0] for row in cursor.fetchall())


# --- building messages --------------------------------------------------------------------------

_TOKEN = "__token__"


class MessageBuilder:
    """Renders a campaign's content for each delivery into the adapter's OutboundMessage."""

    def __init__(self, campaign: Campaign, channel: str, data: dict | None = None) -> None:
        self.campaign = campaign
        self.channel = channel
        content = campaign.contents.filter(channel=channel).first() if data is None else None
        self.data = data if data is not None else (content.data if content else {})
        self.typed = content_for(channel, self.data)
        self.template = None
        if channel == "whatsapp" and self.data.get("mode", "template") == "template":
            tpl = MessageTemplate.objects.filter(tenant_id=campaign.tenant_id, pk=self.data.get("template_id")).first()
            self.template = tpl
        self.media = self._media(self.data.get("media_id") or self.data.get("audio_media_id"))
        # URL shapes reversed once per batch, not once per message.
        self._one_click_url = f"{settings.SITE_URL}{reverse('audiences_public:one_click', args=[_TOKEN])}"
        self._preferences_url = f"{settings.SITE_URL}{reverse('audiences_public:preferences', args=[_TOKEN])}"
        # Journey hook (campaigns.journeys): a drip or triggered campaign's deliveries carry their
        # workflow step (Delivery.step) and are rendered from that step's own content.
        self.step_builders: dict[int, MessageBuilder] = {}
        if data is None and campaign.type != CampaignType.BROADCAST:
            from campaigns.journeys.workflow import step_contents

            self.step_builders = {n: MessageBuilder(campaign, channel, data=d)
                                  for n, d in step_contents(campaign, channel).items()}

    def _media(self, media_id) -> tuple[Media, ...]:
        if not media_id:
            return ()
        from campaigns.models import CampaignMedia

        item = CampaignMedia.objects.filter(tenant_id=self.campaign.tenant_id, pk=media_id).first()
        if item is None:
            return ()
        return (Media(url=media_public_url(item), content_type=item.content_type, filename=item.original_name),)

    def build(self, delivery: Delivery) -> OutboundMessage:
        if self.step_builders:  # journey hook, see __init__
            step_builder = self.step_builders.get(step_number_of(delivery.step))
            if step_builder is not None:
                return step_builder.build(delivery)
        context = contact_context(delivery.contact) if delivery.contact else {}
        fields = self.typed.render(context)
        headers: dict[str, str] = {}
        if self.channel == "email" and delivery.contact is not None:
            headers, extra = self._unsubscribe(delivery)
            fields["options"] = {**fields.get("options", {}), **extra}
        template = None
        if self.template is not None:
            template = TemplateRef(name=self.template.name, language=self.template.language,
                                   variables=tuple(fields.pop("template_variables", ())),
                                   provider_id=self.template.provider_template_id)
        fields.pop("template_variables", None)
        if self.channel == "whatsapp" and self.template is None and delivery.contact is not None \
                and delivery.contact.whatsapp_last_inbound_at is not None:
            # The adapter refuses session text outside the 24-hour window; it needs the stamp.
            fields["options"] = {**fields.get("options", {}),
                                 "last_inbound_at": delivery.contact.whatsapp_last_inbound_at.isoformat()}
        if self.channel == "social":
            fields["text"] = self.typed.text_for(delivery.address)
        fields = tracking_apply(fields, delivery=delivery, campaign=self.campaign, channel=self.channel)
        return OutboundMessage(
            id=str(delivery.uuid), to=delivery.address, text=fields.get("text", ""), subject=fields.get("subject", ""),
            html=fields.get("html", ""), title=fields.get("title", ""), url=fields.get("url", ""),
            media=self.media, template=template, headers=headers,
            options={**fields.get("options", {}), "campaign_id": str(self.campaign.pk)},
        )

    def _unsubscribe(self, delivery: Delivery) -> tuple[dict[str, str], dict[str, str]]:
        """An email's List-Unsubscribe headers (RFC 8058 one-click) and its preference-centre URL."""
        one_click = self._one_click_url.replace(_TOKEN, unsubscribe_token(contact=delivery.contact, channel="email"))
        headers = {"List-Unsubscribe": f"<{one_click}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        preferences = self._preferences_url.replace(_TOKEN, unsubscribe_token(contact=delivery.contact))
        return headers, {"preferences_url": preferences}

    _NO_SHAPE = object()

    def _email_shape(self):
        """The campaign's email rendered once with substitution tags (email_batch), or None."""
        shape = self.__dict__.get("_shape", self._NO_SHAPE)
        if shape is self._NO_SHAPE:
            shape = None
            if self.channel == "email" and self.template is None and isinstance(self.typed, EmailContent):
                try:
                    shape = EmailShape(campaign=self.campaign, typed=self.typed)
                except NotBatchable as exc:
                    logger.info("Campaign %s: email rendered one by one (%s)", self.campaign.pk, exc)
            self.__dict__["_shape"] = shape
        return shape

    def build_sendable(self, delivery: Delivery, *, substitutions: bool = False) -> OutboundMessage:
        """What dispatch sends: build(), except that with a provider that substitutes per recipient
        (Capabilities.substitutions) an email shares one tagged body with the rest of its batch
        and carries its own values as substitutions (one SendGrid request for up to 1,000
        recipients, the same email for each once SendGrid substitutes)."""
        if self.step_builders:  # journey hook, see __init__
            step_builder = self.step_builders.get(step_number_of(delivery.step))
            if step_builder is not None:
                return step_builder.build_sendable(delivery, substitutions=substitutions)
        if not substitutions or self.channel != "email" or delivery.is_test or delivery.contact is None:
            return self.build(delivery)
        shape = self._email_shape()
        substitutions = shape.substitutions(delivery) if shape is not None else None
        if substitutions is None:
            return self.build(delivery)
        one_click = self._one_click_url.replace(_TOKEN, unsubscribe_token(contact=delivery.contact, channel="email"))
        headers = {"List-Unsubscribe": f"<{one_click}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        # No options["preferences_url"] here: a provider that substitutes (SendGrid) never reads it,
        # and its signed token was a tenth of the CPU of a batched email.
        return OutboundMessage(
            id=str(delivery.uuid), to=delivery.address, text=shape.text, subject=shape.subject, html=shape.html,
            media=self.media, headers=headers,
            options={"substitutions": substitutions, "campaign_id": str(self.campaign.pk)},
        )


# --- one batch ----------------------------------------------------------------------------------

def _backoff(attempts: int, retry_after: float | None) -> dt.timedelta:
    if retry_after:
        return dt.timedelta(seconds=retry_after)
    base = settings.ENGINE_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))  # jitter spreads the retries


def _max_attempts(campaign: Campaign, channel: str, builder: MessageBuilder) -> int:
    if channel == "voice":
        return 1 + int(builder.data.get("max_retries") or 0)
    return MAX_ATTEMPTS


def _retry_delay(channel: str, builder: MessageBuilder, attempts: int, retry_after: float | None) -> dt.timedelta:
    if channel == "voice":
        return dt.timedelta(seconds=int(builder.data.get("retry_delay") or 60))
    return _backoff(attempts, retry_after)


def _defer(ids_to_time: dict[int, dt.datetime], claim_time: dt.datetime) -> None:
    """Back to pending until the calling window opens; waiting is not an attempt."""
    if not ids_to_time:
        return
    Delivery.objects.filter(pk__in=list(ids_to_time), status=DeliveryStatus.SENDING, claimed_at=claim_time).update(
        status=DeliveryStatus.PENDING,
        not_before=Case(*[When(pk=pk, then=Value(t)) for pk, t in ids_to_time.items()], output_field=DateTimeField()),
        attempts=F("attempts") - 1,
    )


def _reserve_budget(*, run: CampaignRun, channel: str, costs: dict[int, Decimal]) -> tuple[list[int], list[int], Decimal]:
    """Reserve the batch's estimated cost; returns (ids allowed, ids over budget, amount reserved)."""
    ids = sorted(costs)
    budget = ChannelBudget.objects.select_for_update().filter(campaign_id=run.campaign_id, channel=channel).first()
    if budget is None:
        return ids, [], Decimal("0")
    remaining = budget.allocated - budget.spent
    allowed, reserved = [], Decimal("0")
    for pk in ids:
        if reserved + costs[pk] > remaining:
            break
        allowed.append(pk)
        reserved += costs[pk]
    ChannelBudget.objects.filter(pk=budget.pk).update(spent=F("spent") + reserved)
    return allowed, ids[len(allowed):], reserved


def _skip_rest_for_budget(*, run: CampaignRun, channel: str, claimed_over: list[int], claim_time) -> int:
    """The allocation is spent: the over-budget claimed rows and everything still pending are skipped."""
    now = timezone.now()
    n = Delivery.objects.filter(pk__in=claimed_over, status=DeliveryStatus.SENDING, claimed_at=claim_time).update(
        status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.BUDGET, failed_at=None, claimed_at=now)
    n += Delivery.objects.filter(run=run, channel=channel, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.BUDGET)
    return n


# Columns a batch outcome may set, with their PostgreSQL types (SQLite needs no casts).
_OUTCOME_COLUMNS = {
    "status": "varchar", "provider_message_id": "varchar", "sent_at": "timestamptz", "failed_at": "timestamptz",
    "error_code": "varchar", "error_message": "varchar", "cost": "numeric", "not_before": "timestamptz",
    "attempts": "smallint",
}


def _write_back(*, claim_time, outcomes: dict[int, dict]) -> set[int]:
    """One UPDATE ... FROM (VALUES ...) for the whole batch, touching only rows this batch still
    holds (status "sending", its claim time); returns the ids it updated.

    A None in an outcome keeps the column's value. (Django's bulk_update builds a CASE per row
    and column, which costs more Python time than the send itself at these batch sizes.)
    """
    if not outcomes:
        return set()
    pg = connection.vendor == "postgresql"
    names = list(_OUTCOME_COLUMNS)
    fields = {name: Delivery._meta.get_field(name) for name in names}
    if pg:
        return _write_back_arrays(claim_time=claim_time, outcomes=outcomes, names=names, fields=fields)
    params: list = []
    for pk, values in outcomes.items():
        params.append(pk)
        for name in names:
            value = values.get(name)
            params.append(None if value is None else fields[name].get_db_prep_save(value, connection))
    row = "(" + ", ".join(["%s"] * (len(names) + 1)) + ")"
    cast = (lambda col, typ: f"CAST(v.{col} AS {typ})") if pg else (lambda col, typ: f"v.{col}")
    table = Delivery._meta.db_table
    assignments = ", ".join(f"{name} = COALESCE({cast(name, typ)}, {table}.{name})"
                            for name, typ in _OUTCOME_COLUMNS.items())
    sql = f"""
        WITH v(id, {", ".join(names)}) AS (VALUES {", ".join([row] * len(outcomes))})
        UPDATE {table} SET {assignments}
        FROM v
        WHERE {table}.id = {"CAST(v.id AS bigint)" if pg else "v.id"} AND {table}.status = %s AND {table}.claimed_at = %s
        RETURNING {table}.id
    """
    params += [DeliveryStatus.SENDING.value, fields["sent_at"].get_db_prep_save(claim_time, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _write_back_arrays(*, claim_time, outcomes: dict[int, dict], names: list[str], fields: dict) -> set[int]:
    """PostgreSQL: the same UPDATE over unnest() of one array per column. The statement's text no
    longer grows with the batch (psycopg parsed a 10,000-placeholder query on every batch)."""
    # The values are already what psycopg adapts (str, aware datetime, Decimal, int); choices
    # become plain str. (get_db_prep_save per value was a tenth of a batch's CPU.)
    table = Delivery._meta.db_table
    claimed = fields["sent_at"].get_db_prep_save(claim_time, connection)
    first = next(iter(outcomes.values()))
    if all(values == first for values in outcomes.values()):
        # The usual batched email: one request, one provider id, the same outcome for every row.
        # Constants instead of arrays (psycopg dumps arrays element by element, in Python).
        assignments = ", ".join(f"{name} = COALESCE(%s::{typ}, {name})" for name, typ in _OUTCOME_COLUMNS.items())
        constants = [None if first.get(name) is None else _plain(first[name]) for name in names]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = ANY(%s::bigint[]) AND status = %s "
                           "AND claimed_at = %s RETURNING id",
                           [*constants, list(outcomes), DeliveryStatus.SENDING.value, claimed])
            return {row[0] for row in cursor.fetchall()}
    columns: list[list] = [list(outcomes)]
    for name in names:
        column = [values.get(name) for values in outcomes.values()]
        if name in ("status", "error_code"):
            column = [None if v is None else str(v) for v in column]
        columns.append(column)
    arrays = ", ".join(["%s::bigint[]"] + [f"%s::{typ}[]" for typ in _OUTCOME_COLUMNS.values()])
    assignments = ", ".join(f"{name} = COALESCE(v.{name}, {table}.{name})" for name in names)
    sql = f"""
        UPDATE {table} SET {assignments}
        FROM unnest({arrays}) AS v(id, {", ".join(names)})
        WHERE {table}.id = v.id AND {table}.status = %s AND {table}.claimed_at = %s
        RETURNING {table}.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*columns, DeliveryStatus.SENDING.value, claimed])
        return {row[0] for row in cursor.fetchall()}


def _plain(value):
    return str(value) if isinstance(value, str) else value  # a TextChoices member becomes its str


def _held(ids: list[int], claim_time) -> dict[int, str]:
    """Lock the batch's rows still carrying its claim time; {id: status}."""
    if connection.vendor != "postgresql":
        return dict(Delivery.objects.select_for_update().filter(pk__in=ids, claimed_at=claim_time)
                    .values_list("pk", "status"))
    claimed = Delivery._meta.get_field("claimed_at").get_db_prep_value(claim_time, connection)
    with connection.cursor() as cursor:  # one array parameter instead of an IN list of the whole batch
        cursor.execute(f"SELECT id, status FROM {Delivery._meta.db_table} WHERE id = ANY(%s::bigint[]) "
                       "AND claimed_at = %s FOR UPDATE", [ids, claimed])
        return dict(cursor.fetchall())


class ClaimKeeper(threading.Thread):
    """Keeps a batch's claim fresh while the provider call runs, so a slow provider is not taken
    for a dead worker: claimed_at and the dispatcher's activity mark are renewed every third of
    the claim timeout. A worker that dies stops renewing, and the reaper takes the batch back.
    """

    def __init__(self, *, ids: list[int], claim_time, run_id, channel: str, tenant_id: int) -> None:
        super().__init__(daemon=True, name="claim-keeper")
        self.ids, self.claim_time, self.run_id, self.channel, self.tenant_id = ids, claim_time, run_id, channel, tenant_id
        self.interval = settings.ENGINE_CLAIM_TIMEOUT_SECONDS / 3
        self.halt = threading.Event()
        # Held while the claim time changes, and by the batch while it updates its own rows.
        self.lock = threading.Lock()

    def run(self) -> None:
        from django.core.cache import cache
        from django.db import connections

        from tenants.scoping import tenant_scope

        try:
            while not self.halt.wait(self.interval):
                try:
                    with self.lock, tenant_scope(self.tenant_id):
                        renewed = timezone.now()
                        kept = Delivery.objects.filter(pk__in=self.ids, status=DeliveryStatus.SENDING,
                                                       claimed_at=self.claim_time).update(claimed_at=renewed)
                        self.claim_time = renewed
                        cache.set(activity_key(self.run_id, self.channel), 1,
                                  timeout=settings.ENGINE_DISPATCH_ACTIVITY_TTL)
                    logger.debug("Run %s: %s claim renewed for %d deliveries", self.run_id, self.channel, kept)
                except Exception:  # a dropped connection or a Redis blip: try again next interval
                    logger.warning("Run %s: could not renew a claim", self.run_id, exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connection

    def finish(self):
        """Stop renewing; returns the claim time the rows now carry."""
        self.halt.set()
        self.join()
        return self.claim_time


def _send(adapter, batch: list[OutboundMessage], run: CampaignRun, channel: str) -> list[SendResult]:
    try:
        return adapter.send(batch)
    except ProviderError as exc:  # the whole call failed (configuration, outage)
        return [SendResult(message_id=m.id, error=exc) for m in batch]
    except Exception as exc:  # noqa: BLE001 - unknown adapter failure: transient, logged
        logger.exception("Run %s: %s adapter raised", run.pk, channel)
        err = ProviderError(f"Unexpected error: {exc.__class__.__name__}", code="internal")
        return [SendResult(message_id=m.id, error=err) for m in batch]


def deliveries_send(*, run: CampaignRun, channel: str, ids: list[int], claim_time, adapter, builder: MessageBuilder,
                    max_attempts: int) -> BatchOutcome:
    """Send claimed deliveries and record what happened. Used by dispatch and by test sends.

    A ClaimKeeper renews the claim from the moment the batch is taken until its outcome is known.
    """
    outcome = BatchOutcome(claimed=len(ids))
    keeper = ClaimKeeper(ids=ids, claim_time=claim_time, run_id=run.pk, channel=channel, tenant_id=run.tenant_id)
    keeper.start()
    try:
        results, outcomes_ready = _deliveries_send(run=run, channel=channel, ids=ids, keeper=keeper, adapter=adapter,
                                                   builder=builder, max_attempts=max_attempts, outcome=outcome)
    finally:
        claim_time = keeper.finish()
    return _deliveries_record(run=run, channel=channel, claim_time=claim_time, outcome=outcome, results=results,
                              **outcomes_ready)


# What building, sending and recording a batch reads: the delivery's own fields and the contact's
# template variables (rendering.contact_context). Anything else loads on first access.
_DELIVERY_COLUMNS = ("id", "uuid", "tenant_id", "run_id", "channel", "step", "address", "status", "attempts",
                     "is_test", "contact_id")
_CONTACT_COLUMNS = ("id", "tenant_id", "first_name", "last_name", "email", "phone", "city", "pincode", "role",
                    "locale", "timezone", "telegram_username", "attributes", "whatsapp_last_inbound_at")


def _instance(model, attnames: tuple[str, ...], values, db: str) -> Model:
    """A model instance straight from a row, as the database left it. Model.__init__ (signals, one
    setattr per field, the deferred-field bookkeeping of only()) cost more CPU than sending a
    batched email; a field not loaded here still loads on access, as with only()."""
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values, strict=True))
    obj._state = ModelState()
    obj._state.adding, obj._state.db = False, db
    return obj


def deliveries_for_send(ids: list[int], *, tenant_id: int) -> dict[int, Delivery]:
    """The batch's deliveries ({id: delivery}), each with its contact (or None) already attached."""
    from audiences.models import Contact

    n, db = len(_DELIVERY_COLUMNS), connection.alias
    deliveries = {}
    for row in _send_rows(ids, tenant_id):
        delivery = _instance(Delivery, _DELIVERY_COLUMNS, row[:n], db)
        contact = _instance(Contact, _CONTACT_COLUMNS, row[n:], db) if row[n] is not None else None
        delivery._state.fields_cache["contact"] = contact
        deliveries[delivery.pk] = delivery
    return deliveries


def _send_rows(ids: list[int], tenant_id: int):
    """The rows of deliveries_for_send. On PostgreSQL one plain statement with an array parameter:
    the ORM's compiler and row conversion took 22 µs a row, the statement 4."""
    from audiences.models import Contact

    if connection.vendor != "postgresql":
        return Delivery.objects.filter(tenant_id=tenant_id, pk__in=ids).values_list(
            *_DELIVERY_COLUMNS, *(f"contact__{name}" for name in _CONTACT_COLUMNS))
    fields = [Delivery._meta.get_field(name) for name in _DELIVERY_COLUMNS] + \
             [Contact._meta.get_field(name) for name in _CONTACT_COLUMNS]
    columns = [f"d.{f.column}" for f in fields[:len(_DELIVERY_COLUMNS)]] + \
              [f"c.{f.column}" for f in fields[len(_DELIVERY_COLUMNS):]]
    # Fields that convert what the driver returns (JSONField: text -> Python).
    converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {Delivery._meta.db_table} d "
                       f"LEFT JOIN {Contact._meta.db_table} c ON c.id = d.contact_id "
                       "WHERE d.id = ANY(%s::bigint[]) AND d.tenant_id = %s", [list(ids), tenant_id])
        rows = cursor.fetchall()
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for i, convert in converters:
                row[i] = convert(row[i], None, connection)
    return rows


def _deliveries_send(*, run, channel, ids, keeper: ClaimKeeper, adapter, builder, max_attempts, outcome):
    from campaigns.engine.counters import stats_bump_many

    campaign = run.campaign
    deliveries = deliveries_for_send(ids, tenant_id=run.tenant_id)
    now = timezone.now()

    window = calling_window(campaign, channel) if not run.is_test else None
    if window:
        deferred = {}
        for pk, d in deliveries.items():
            opening = next_allowed_time(now, _recipient_tz(campaign, d), window)
            if opening is not None:
                deferred[pk] = opening
        with keeper.lock:
            _defer(deferred, keeper.claim_time)
        outcome.deferred = len(deferred)
        for pk in deferred:
            deliveries.pop(pk)

    messages: dict[int, OutboundMessage] = {}
    failures: dict[int, dict] = {}
    substitutions = getattr(adapter.capabilities, "substitutions", False)
    for pk, d in deliveries.items():
        try:
            messages[pk] = builder.build_sendable(d, substitutions=substitutions)
        except Exception as exc:  # noqa: BLE001 - one bad row must not sink the batch
            logger.exception("Delivery %s: could not render", d.uuid)
            failures[pk] = {"status": DeliveryStatus.FAILED, "failed_at": now, "error_code": "render",
                            "error_message": f"Could not render the message: {exc}"[:500]}

    costs = {pk: Decimal(str(adapter.cost(m))) for pk, m in messages.items()}
    if run.is_test:  # test sends are free of budget and statistics
        allowed, over, reserved = sorted(costs), [], Decimal("0")
    else:
        with transaction.atomic():
            allowed, over, reserved = _reserve_budget(run=run, channel=channel, costs=costs)
    if over:
        with keeper.lock, transaction.atomic():
            outcome.skipped = _skip_rest_for_budget(run=run, channel=channel, claimed_over=over,
                                                    claim_time=keeper.claim_time)
            stats_bump_many(run=run, deltas={channel: {"skipped": outcome.skipped}})
            logger.info("Run %s: %s budget spent, %d deliveries skipped", run.pk, channel, outcome.skipped)
    # Fresh deliveries go first and retries last: when a provider error halts a batch, the one
    # message that was really attempted is a fresh one, so a storm doesn't keep landing on (and
    # exhausting the attempts of) the same delivery at the head of every retry.
    allowed.sort(key=lambda pk: (deliveries[pk].attempts, pk))
    batch = [messages[pk] for pk in allowed]

    results = _send(adapter, batch, run, channel) if batch else []
    return results, {"deliveries": deliveries, "allowed": allowed, "costs": costs, "failures": failures,
                     "reserved": reserved, "builder": builder, "max_attempts": max_attempts, "now": now}


def _deliveries_record(*, run, channel, claim_time, outcome, results, deliveries, allowed, costs, failures, reserved,
                       builder, max_attempts, now) -> BatchOutcome:
    """Turn the provider's answers into one write-back, counters and suppressions."""
    from campaigns.engine.counters import stats_bump_many

    by_uuid = {str(deliveries[pk].uuid): pk for pk in allowed}
    outcomes: dict[int, dict] = dict(failures)
    actual_cost = Decimal("0")
    suppress: list[Delivery] = []
    for result in results:
        pk = by_uuid.get(result.message_id)
        if pk is None:
            logger.warning("Run %s: adapter returned an unknown message id %s", run.pk, result.message_id)
            continue
        d = deliveries[pk]
        if result.ok:
            cost = Decimal(str(result.cost)) if result.cost else costs.get(pk, Decimal("0"))
            actual_cost += cost
            outcomes[pk] = {"status": DeliveryStatus.SENT, "sent_at": now, "cost": cost,
                            "provider_message_id": (result.provider_message_id or "")[:120],
                            "error_code": "", "error_message": ""}
            continue
        err = result.error
        info = {"error_code": (err.code or "")[:40], "error_message": err.message[:500]}
        if (moved := moved_outcome(err, d, now)) is not None:  # recipient moved: once more, to the new address
            outcomes[pk] = moved
        elif not err.attempted and not err.permanent:
            # Never reached the provider (the batch halted before it): no attempt spent.
            outcomes[pk] = {"status": DeliveryStatus.PENDING, "attempts": max(d.attempts - 1, 0),
                            "not_before": now + _retry_delay(channel, builder, 1, err.retry_after), **info}
        elif err.permanent or d.attempts >= max_attempts:
            outcomes[pk] = {"status": DeliveryStatus.FAILED, "failed_at": now, **info}
            if err.suppress_recipient:
                suppress.append(d)
        else:
            outcomes[pk] = {"status": DeliveryStatus.PENDING,
                            "not_before": now + _retry_delay(channel, builder, d.attempts, err.retry_after), **info}
    # Anything the adapter did not answer for is retried rather than lost.
    for pk in allowed:
        if pk not in outcomes:
            outcomes[pk] = {"status": DeliveryStatus.PENDING, "not_before": now + _backoff(1, None),
                            "error_code": "no_result", "error_message": "The provider adapter returned no result."}

    with transaction.atomic():
        moved = []
        if any("moved_to" in o for o in outcomes.values()):
            # Re-addressing reads and writes the rows first: lock the ones this batch still holds.
            held = _held(list(outcomes), claim_time)
            owned = {pk: o for pk, o in outcomes.items() if held.get(pk) == DeliveryStatus.SENDING}
            moved = moved_readdress(deliveries=deliveries, outcomes=owned, now=now)
            _write_back(claim_time=claim_time, outcomes=owned)
        else:
            # The write-back's own conditions (still "sending", still our claim time) decide
            # which rows are ours; no lock beforehand (a row lock per delivery, its own WAL record).
            written = _write_back(claim_time=claim_time, outcomes=outcomes)
            owned = {pk: o for pk, o in outcomes.items() if pk in written}
        # A status callback may have overtaken this write-back (and counted the send): keep its
        # status, add what only we know.
        for pk, o in outcomes.items():
            if o["status"] == DeliveryStatus.SENT and pk not in owned:
                Delivery.objects.filter(pk=pk, claimed_at=claim_time, status__in=ACCEPTED_STATUSES).update(
                    provider_message_id=o["provider_message_id"], cost=o["cost"])
        outcome.sent = sum(1 for o in owned.values() if o["status"] == DeliveryStatus.SENT)
        outcome.failed = sum(1 for o in owned.values() if o["status"] == DeliveryStatus.FAILED)
        outcome.retried = sum(1 for o in owned.values() if o["status"] == DeliveryStatus.PENDING)
        if reserved:
            ChannelBudget.objects.filter(campaign_id=run.campaign_id, channel=channel).update(
                spent=F("spent") - reserved + actual_cost)
        stats_bump_many(run=run, deltas={channel: {"sent": outcome.sent, "failed": outcome.failed,
                                                   "cost": actual_cost}})
    moved_announce(tenant_id=run.tenant_id, channel=channel, moved=moved)
    for d in suppress:
        recipient_suppressed.send(sender=Delivery, tenant_id=run.tenant_id, channel=channel, address=d.address,
                                  reason=outcomes[d.pk].get("error_message", ""))
    return outcome


# --- the dispatch loop --------------------------------------------------------------------------

def _batch_size(campaign: Campaign, channel: str, adapter, builder: MessageBuilder) -> int:
    size = min(MAX_BATCH_SIZE, max(BATCH_SIZE, adapter.capabilities.max_batch))
    if channel == "whatsapp":
        size = min(size, campaign.whatsapp_list_size)
    if channel == "voice":
        size = min(size, max(1, int(builder.data.get("max_concurrent") or 1)))
    return size


def _calls_in_progress(run: CampaignRun) -> int:
    return Delivery.objects.filter(run=run, channel="voice", status=DeliveryStatus.SENT, disposition="").count()


def activity_key(run_id, channel: str) -> str:
    return f"dispatch-active:{run_id}:{channel}"


def run_dispatch(*, run_id, channel: str, time_budget: float = 20.0) -> str:
    """Send a run's due deliveries on one channel for up to `time_budget` seconds.

    Returns "stopped" (run not sending), "done" (nothing due now), "continue" (time budget used
    up: the caller re-enqueues) or ("delay", seconds) semantics via "delay:<n>".
    """
    from django.core.cache import cache

    run = CampaignRun.objects.select_related("campaign", "campaign__tenant", "tenant").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.SENDING:
        return "stopped"
    campaign = run.campaign
    config = campaign_channel_config(campaign, channel)
    if config is None:
        from campaigns.engine.counters import stats_bump_many

        with transaction.atomic():
            n = Delivery.objects.filter(run=run, channel=channel, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.NO_CONFIG)
            stats_bump_many(run=run, deltas={channel: {"skipped": n}})
        run_finish_if_done(run_id=run.pk)
        return "done"
    try:
        adapter = channel_adapter(config)
    except (LookupError, ImportError, ProviderError) as exc:
        # A broken configuration cannot send anything: fail the channel's pending deliveries
        # with the reason rather than retrying forever.
        _fail_pending(run, channel, code="configuration", message=f"{config.name}: {exc}")
        run_finish_if_done(run_id=run.pk)
        return "done"
    builder = MessageBuilder(campaign, channel)
    rules = [config.rate_limit_rule()]
    if campaign.throttle_per_minute:
        rate = campaign.throttle_per_minute / 60.0
        rules.append(ratelimit.Rule(f"rl:{{campaign:{campaign.pk}}}:{channel}", rate, max(1.0, rate)))
    size = _batch_size(campaign, channel, adapter, builder)
    max_attempts = _max_attempts(campaign, channel, builder)
    deadline = time.monotonic() + time_budget
    position = 0  # the last id this dispatcher claimed (see deliveries_claim)

    while time.monotonic() < deadline:
        cache.set(activity_key(run.pk, channel), 1, timeout=settings.ENGINE_DISPATCH_ACTIVITY_TTL)
        status = CampaignRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        if status != RunStatus.SENDING:
            return "stopped"  # paused or cancelled: takes effect before the next batch
        limit = size
        if channel == "voice":
            limit = min(size, max(0, size - _calls_in_progress(run)))
            if limit == 0:
                time.sleep(1.0)
                continue
        grant = ratelimit.acquire(rules, tokens=limit)
        if grant.granted == 0:
            time.sleep(min(max(grant.retry_after, 0.01), 1.0))
            continue
        claim_time = timezone.now()
        ids = deliveries_claim(run=run, channel=channel, limit=grant.granted, now=claim_time, after=position)
        if not ids and position:
            # Past the end: start over for rows behind us (retries now due, rows another
            # dispatcher left, claims the reaper returned).
            position = 0
            ids = deliveries_claim(run=run, channel=channel, limit=grant.granted, now=claim_time)
        if not ids:
            break
        position = ids[-1]
        deliveries_send(run=run, channel=channel, ids=ids, claim_time=claim_time, adapter=adapter,
                        builder=builder, max_attempts=max_attempts)
        if campaign.batch_delay_seconds:
            return f"delay:{campaign.batch_delay_seconds}"
    else:
        return "continue"
    cache.delete(activity_key(run.pk, channel))
    run_finish_if_done(run_id=run.pk)
    return "done"


def _fail_pending(run: CampaignRun, channel: str, *, code: str, message: str) -> None:
    from campaigns.engine.counters import stats_bump_many

    logger.error("Run %s: %s cannot send: %s", run.pk, channel, message)
    with transaction.atomic():
        n = Delivery.objects.filter(run=run, channel=channel, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, failed_at=timezone.now(), error_code=code, error_message=message[:500])
        stats_bump_many(run=run, deltas={channel: {"failed": n}})


def run_finish_if_done(*, run_id) -> bool:
    """Complete the run (and the campaign, or schedule its next occurrence) when nothing is left."""
    from campaigns.engine.scheduler import campaign_after_run

    with transaction.atomic():
        if Delivery.objects.filter(run_id=run_id, status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)).exists():
            return False
        run = CampaignRun.objects.select_for_update().filter(pk=run_id, status=RunStatus.SENDING).first()
        if run is None:
            return False
        if run.campaign.type != CampaignType.BROADCAST and not run.is_test:
            return False  # a drip or triggered run lives as long as its campaign (lifecycle ends it)
        from django.db.models import Sum

        from campaigns.models import RunChannelStats

        totals = RunChannelStats.objects.filter(run=run).aggregate(sent=Sum("sent"), failed=Sum("failed"))
        every_one_failed = not (totals["sent"] or 0) and (totals["failed"] or 0) > 0
        run.status = RunStatus.FAILED if every_one_failed else RunStatus.COMPLETED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        if not run.is_test:
            campaign_after_run(run=run, every_one_failed=every_one_failed)
    return True
