"""The one place that knows which campaign status changes are allowed.

Every transition is a conditional UPDATE (... WHERE status IN allowed), so two concurrent requests
can't both win: the loser sees zero rows updated and gets IllegalTransition with a clear message,
and nothing changes. Side effects of a transition (creating runs, pausing dispatch) live in the
engine services, which call `transition()` first and act only when it succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus

S = CampaignStatus


class Action:
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    SEND_NOW = "send_now"
    START = "start"  # beat starts a scheduled campaign's due run
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY_FAILED = "retry_failed"
    RESCHEDULE = "reschedule"  # a recurring campaign waits for its next occurrence


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    verb: str  # for messages: "pause", "resume" ...


TRANSITIONS: dict[str, Transition] = {
    Action.SCHEDULE: Transition(frozenset({S.DRAFT}), S.SCHEDULED, "schedule"),
    Action.UNSCHEDULE: Transition(frozenset({S.SCHEDULED}), S.DRAFT, "move back to draft"),
    Action.SEND_NOW: Transition(frozenset({S.DRAFT, S.SCHEDULED}), S.ACTIVE, "send"),
    Action.START: Transition(frozenset({S.SCHEDULED}), S.ACTIVE, "start"),
    Action.PAUSE: Transition(frozenset({S.ACTIVE, S.SCHEDULED}), S.PAUSED, "pause"),
    Action.RESUME: Transition(frozenset({S.PAUSED}), S.ACTIVE, "resume"),
    Action.CANCEL: Transition(frozenset({S.SCHEDULED, S.ACTIVE, S.PAUSED}), S.CANCELLED, "cancel"),
    Action.COMPLETE: Transition(frozenset({S.ACTIVE}), S.COMPLETED, "complete"),
    Action.FAIL: Transition(frozenset({S.ACTIVE, S.SCHEDULED}), S.FAILED, "mark as failed"),
    Action.RETRY_FAILED: Transition(frozenset({S.ACTIVE, S.COMPLETED, S.FAILED}), S.ACTIVE, "retry failed deliveries of"),
    Action.RESCHEDULE: Transition(frozenset({S.ACTIVE}), S.SCHEDULED, "reschedule"),
}

EDITABLE_STATUSES = frozenset({S.DRAFT, S.SCHEDULED})
DELETABLE_STATUSES = frozenset({S.DRAFT, S.SCHEDULED})  # others are archived, never deleted


class IllegalTransition(Exception):
    """The requested change is not allowed from the campaign's current status."""


def allowed_actions(status: str) -> set[str]:
    return {action for action, t in TRANSITIONS.items() if status in t.sources}


def transition(campaign: Campaign, action: str, **extra_fields) -> Campaign:
    """Move `campaign` by `action` atomically, or raise IllegalTransition and change nothing.

    extra_fields are written in the same UPDATE (e.g. scheduled_at, next_run_at).
    """
    rule = TRANSITIONS[action]
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, status__in=rule.sources, archived_at__isnull=True).update(
            status=rule.target, version=F("version") + 1, updated_at=timezone.now(), **extra_fields
        )
        if not updated:
            current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
            label = S(current).label.lower() if current else "deleted"
            raise IllegalTransition(f"Can't {rule.verb} “{campaign.name}”: it is {label}.")
    campaign.refresh_from_db()
    return campaign


def ensure_editable(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE_STATUSES or campaign.archived_at is not None:
        raise IllegalTransition(
            f"“{campaign.name}” is {S(campaign.status).label.lower()} and can no longer be edited. Clone it to make changes."
        )
