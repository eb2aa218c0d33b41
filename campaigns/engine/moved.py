"""Deliveries whose recipient moved: the provider answered with a new address and delivered nothing
(ProviderError.moved_to; a Telegram group upgraded to a supergroup answers 400 with its new chat
id). Dispatch re-queues such a delivery once, to the new address, instead of failing it.

Kept out of dispatch.py so the engine's hot path only gains three calls:
- moved_outcome(): in the result loop, the outcome for a moved recipient (or None);
- moved_readdress(): in the write-back transaction, before the write, on the rows this batch
  still holds; a delivery whose new address the run already targets fails as a duplicate rather
  than sending the same post twice;
- moved_announce(): after the commit, tells audiences (channels.signals.recipient_moved).
"""

from __future__ import annotations

import datetime as dt

from campaigns.models import Delivery, DeliveryStatus
from channels.base import ProviderError
from channels.signals import recipient_moved

MOVED = "recipient_moved"  # the error_code a re-addressed delivery carries until its next attempt


def moved_outcome(err: ProviderError, delivery: Delivery, now: dt.datetime) -> dict | None:
    """Pending again, due now, the attempt not counted; None when there is no new address, it is
    the one we used, or this delivery already followed a move (once only: no ping-pong)."""
    new = (getattr(err, "moved_to", None) or "").strip()
    if not new or new == delivery.address or delivery.error_code == MOVED:
        return None
    return {"status": DeliveryStatus.PENDING, "not_before": now, "attempts": max(delivery.attempts - 1, 0),
            "error_code": MOVED, "error_message": f"{err.message} Sending again to {new}."[:500], "moved_to": new}


def moved_readdress(*, deliveries: dict[int, Delivery], outcomes: dict[int, dict], now: dt.datetime) -> list[tuple]:
    """Give the moved deliveries among `outcomes` (rows held by this batch, locked) their new
    address. Returns (delivery, new address) pairs for moved_announce()."""
    moved = []
    for pk, outcome in outcomes.items():
        new = outcome.pop("moved_to", None)
        if new is None:
            continue
        d = deliveries[pk]
        # Any row, skipped ones too: (run, channel, step, address) is unique for deliveries without a contact.
        taken = Delivery.objects.filter(run_id=d.run_id, channel=d.channel, step=d.step, address=new).exclude(
            pk=pk).exists()
        if taken:  # the run already sends to the new address: a second message there would be a duplicate
            outcome.update(status=DeliveryStatus.FAILED, failed_at=now, not_before=None, attempts=None,
                           error_message=f"{outcome['error_message'][:400]} Not sent: this run already targets {new}.")
        else:
            Delivery.objects.filter(pk=pk, status=DeliveryStatus.SENDING).update(address=new)
        moved.append((d, new))
    return moved


def moved_announce(*, tenant_id: int, channel: str, moved: list[tuple]) -> None:
    for d, new in moved:
        recipient_moved.send(sender=Delivery, tenant_id=tenant_id, channel=channel, address=d.address,
                             new_address=new)
