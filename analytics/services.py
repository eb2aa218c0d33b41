"""Writes of the read side: clicks, opens and conversions.

Clicks and opens go through the delivery engine's forward-only status logic
(campaigns.engine.status.status_events_apply), so a click on a message never moves it back, fills
in the stages it implies (a clicked email was delivered and opened) and bumps each counter once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import ClickEvent, Conversion, ConversionSource, TrackedLink
from audiences.models import Contact
from campaigns.engine.status import status_events_apply
from campaigns.models import Delivery
from channels.base import Stage, StatusEvent
from channels.models import ChannelConfig

DEFAULT_ATTRIBUTION_WINDOW_DAYS = 7


def attribution_window() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "ATTRIBUTION_WINDOW_DAYS", DEFAULT_ATTRIBUTION_WINDOW_DAYS))


def _stage_apply(*, delivery: Delivery, stage: Stage, when: dt.datetime) -> None:
    # status_events_apply reads only the tenant and channel of the config; the delivery's own
    # config may have been deleted since (SET_NULL), so an unsaved stand-in is equivalent.
    config = delivery.channel_config or ChannelConfig(tenant_id=delivery.tenant_id, channel=delivery.channel)
    status_events_apply(config=config, events=[StatusEvent(stage=stage, message_id=str(delivery.uuid),
                                                           occurred_at=when)])


def click_record(*, delivery: Delivery, link: TrackedLink, user_agent: str = "") -> ClickEvent:
    """Every click is a ClickEvent (total); the first also sets clicked_at and the counters (unique)."""
    now = timezone.now()
    with transaction.atomic():
        _stage_apply(delivery=delivery, stage=Stage.CLICKED, when=now)
        return ClickEvent.objects.create(tenant_id=delivery.tenant_id, delivery=delivery,
                                         campaign_id=delivery.campaign_id, link=link, channel=delivery.channel,
                                         user_agent=user_agent[:300])


def open_record(*, delivery: Delivery) -> None:
    """The open pixel was fetched: read_at is set once, never moved, and the read counter bumped once."""
    _stage_apply(delivery=delivery, stage=Stage.READ, when=timezone.now())


def delivery_for_attribution(*, contact: Contact, occurred_at: dt.datetime) -> Delivery | None:
    """The contact's last sent delivery at most the attribution window before the conversion."""
    return (Delivery.objects
            .filter(tenant_id=contact.tenant_id, contact=contact, is_test=False, sent_at__isnull=False,
                    sent_at__lte=occurred_at, sent_at__gte=occurred_at - attribution_window())
            .order_by("-sent_at").first())


@dataclass
class ConversionResult:
    conversion: Conversion
    created: bool


def conversion_record(*, tenant_id: int, event: str, revenue: Decimal = Decimal("0"),
                      occurred_at: dt.datetime | None = None, delivery: Delivery | None = None,
                      contact: Contact | None = None, source: str = ConversionSource.API) -> ConversionResult:
    """Store a conversion, attributed to the given delivery or to the contact's last one in the window.

    A conversion with no delivery in the window is still kept (it counts for the contact, not for
    any campaign). From a tracked link (source=redirect) each event counts once per delivery.
    """
    occurred_at = occurred_at or timezone.now()
    if delivery is None and contact is not None:
        delivery = delivery_for_attribution(contact=contact, occurred_at=occurred_at)
    if delivery is not None:
        contact = contact or (Contact.objects.filter(pk=delivery.contact_id).first() if delivery.contact_id else None)
    values = {
        "tenant_id": tenant_id, "delivery": delivery, "contact": contact, "event": event, "revenue": revenue,
        "campaign_id": delivery.campaign_id if delivery else None, "channel": delivery.channel if delivery else "",
        "occurred_at": occurred_at, "source": source,
    }
    if source == ConversionSource.REDIRECT and delivery is not None:
        existing = Conversion.objects.filter(delivery=delivery, event=event, source=source).first()
        if existing is not None:
            return ConversionResult(existing, False)
        try:
            with transaction.atomic():
                return ConversionResult(Conversion.objects.create(**values), True)
        except IntegrityError:  # a concurrent reload won the race
            return ConversionResult(Conversion.objects.get(delivery=delivery, event=event, source=source), False)
    return ConversionResult(Conversion.objects.create(**values), True)
