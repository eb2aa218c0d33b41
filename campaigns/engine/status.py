"""Provider status events applied to deliveries, forward only.

A late "delivered" never overwrites "read"; each stage keeps its own timestamp (and reaching a
later stage fills in the earlier ones it implies: a read message was delivered). Counters change
in the same transaction. Inbound replies that name no message are matched to the latest delivery
to that address on that channel within a week.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid as uuid_lib
from collections import defaultdict

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from campaigns.engine.counters import stats_bump_many
from campaigns.models import STATUS_RANK, CampaignRun, Delivery, DeliveryStatus
from channels.base import Stage, StatusEvent
from channels.models import ChannelConfig
from channels.signals import status_events_received
from tenants.scoping import tenant_scope

logger = logging.getLogger(__name__)

# Stage -> (status, timestamp field, counter)
STAGES = {
    Stage.SENT: (DeliveryStatus.SENT, "sent_at", None),
    Stage.DELIVERED: (DeliveryStatus.DELIVERED, "delivered_at", "delivered"),
    Stage.READ: (DeliveryStatus.READ, "read_at", "read"),
    Stage.CLICKED: (DeliveryStatus.CLICKED, "clicked_at", "clicked"),
    Stage.REPLIED: (DeliveryStatus.REPLIED, "replied_at", "replied"),
}
# Reaching a stage implies the ones before it (from delivered on).
IMPLIED = {
    Stage.DELIVERED: (Stage.DELIVERED,),
    Stage.READ: (Stage.DELIVERED, Stage.READ),
    Stage.CLICKED: (Stage.DELIVERED, Stage.READ, Stage.CLICKED),
    Stage.REPLIED: (Stage.DELIVERED, Stage.REPLIED),
}
REPLY_MATCH_WINDOW = dt.timedelta(days=7)


def _find(events: list[StatusEvent], config: ChannelConfig) -> dict[int, Delivery]:
    uuids = {e.message_id for e in events if e.message_id}
    provider_ids = {e.provider_message_id for e in events if e.provider_message_id and not e.message_id}
    rows = Delivery.objects.select_for_update().filter(tenant_id=config.tenant_id)
    found = {}
    if uuids:
        valid = []
        for value in uuids:
            try:
                valid.append(uuid_lib.UUID(value))
            except ValueError:
                continue
        found.update({d.pk: d for d in rows.filter(uuid__in=valid)})
    if provider_ids:
        found.update({d.pk: d for d in rows.filter(channel=config.channel, provider_message_id__in=provider_ids)})
    return found


def _match(event: StatusEvent, by_uuid: dict, by_provider: dict, config: ChannelConfig) -> Delivery | None:
    if event.message_id and event.message_id in by_uuid:
        return by_uuid[event.message_id]
    if event.provider_message_id and event.provider_message_id in by_provider:
        return by_provider[event.provider_message_id]
    if event.stage in (Stage.REPLIED, None) and event.from_address:
        since = timezone.now() - REPLY_MATCH_WINDOW
        return (Delivery.objects.select_for_update()
                .filter(tenant_id=config.tenant_id, channel=config.channel, address=event.from_address,
                        sent_at__gte=since, is_test=False)
                .order_by("-sent_at").first())
    return None


def status_events_apply(*, config: ChannelConfig, events: list[StatusEvent]) -> list[StatusEvent]:
    """Apply events; return those that matched no delivery (the webhook logs them)."""
    unmatched: list[StatusEvent] = []
    with transaction.atomic():
        found = _find(events, config)
        by_uuid = {str(d.uuid): d for d in found.values()}
        by_provider = {d.provider_message_id: d for d in found.values() if d.provider_message_id}
        deltas: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        changed: dict[int, Delivery] = {}
        inbound: list[tuple[Delivery, StatusEvent]] = []
        for event in sorted(events, key=lambda e: (e.occurred_at or timezone.now())):
            delivery = _match(event, by_uuid, by_provider, config)
            if delivery is None:
                unmatched.append(event)
                continue
            stage = event.stage if event.stage is not None else Stage.REPLIED
            if _apply(delivery, event, stage, deltas[(delivery.run_id, delivery.channel)]):
                changed[delivery.pk] = delivery
            if stage == Stage.REPLIED and event.text:
                inbound.append((delivery, event))
        for delivery in changed.values():
            delivery.save(update_fields=["status", "sent_at", "delivered_at", "read_at", "clicked_at", "replied_at",
                                         "failed_at", "error_code", "error_message", "disposition", "reply_text"])
        runs = {r.pk: r for r in CampaignRun.objects.select_related("tenant").filter(
            pk__in={run_id for run_id, _ in deltas})}
        per_run: dict = defaultdict(dict)
        for (run_id, channel), counts in deltas.items():
            per_run[run_id][channel] = dict(counts)
        for run_id, channel_deltas in per_run.items():
            stats_bump_many(run=runs[run_id], deltas=channel_deltas)
        if inbound:
            # Hook for AI auto-replies (trained WhatsApp campaigns answer on their own): it queues
            # work in this transaction and sends nothing itself.
            from campaigns.ai_replies.services import inbound_replies_queue

            inbound_replies_queue(replies=inbound)
    return unmatched


def _apply(delivery: Delivery, event: StatusEvent, stage: Stage, delta: dict[str, int]) -> bool:
    when = event.occurred_at or timezone.now()
    changed = False
    if event.disposition and not delivery.disposition:
        delivery.disposition = event.disposition[:20]
        changed = True
    if stage == Stage.FAILED:
        if delivery.status in (DeliveryStatus.SENDING, DeliveryStatus.SENT):
            if delivery.status == DeliveryStatus.SENT:
                delta["sent"] -= 1
            delivery.status = DeliveryStatus.FAILED
            delivery.failed_at = when
            delivery.error_code = (event.error_code or "")[:40]
            delivery.error_message = (event.error_message or "Reported as failed by the provider")[:500]
            delta["failed"] += 1
            return True
        return changed
    if delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED):
        return changed  # final: a late event changes nothing
    if stage == Stage.SENT:
        if delivery.sent_at is None:
            delivery.sent_at = when
            changed = True
    for implied in IMPLIED.get(stage, ()):
        _status, field, counter = STAGES[implied]
        if getattr(delivery, field) is None:
            setattr(delivery, field, when)
            delta[counter] += 1
            changed = True
    if stage == Stage.REPLIED and event.text:
        delivery.reply_text = event.text[:4000]
        changed = True
    target = STAGES[stage][0]
    if STATUS_RANK.get(target, 0) > STATUS_RANK.get(delivery.status, 0):
        if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            # The callback overtook our own write-back: the provider accepted the message.
            delta["sent"] += 1
            delivery.sent_at = delivery.sent_at or when
        delivery.status = target
        changed = True
    return changed


@receiver(status_events_received, dispatch_uid="campaigns.status_events_received")
def on_status_events(sender, *, tenant_id, config_id, events, **kwargs):
    with tenant_scope(tenant_id):
        config = ChannelConfig.objects.filter(tenant_id=tenant_id, pk=config_id).first()
        if config is None:
            return list(events)
        return status_events_apply(config=config, events=list(events))
