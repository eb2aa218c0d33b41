"""Writes from the campaign grid: star, and bulk actions that go campaign by campaign through the
lifecycle services, so a refused campaign is reported with its reason and the others still act."""

from __future__ import annotations

from dataclasses import dataclass, field

from campaigns import services
from campaigns.lifecycle import IllegalTransition
from campaigns.models import Campaign

BULK_ACTIONS = {
    "pause": "Pause", "resume": "Resume", "cancel": "Cancel", "duplicate": "Duplicate", "delete": "Delete / archive",
}


@dataclass
class BulkOutcome:
    action: str
    done: list[str] = field(default_factory=list)  # "“Name” paused", ...
    refused: list[str] = field(default_factory=list)  # the lifecycle's readable reason per campaign


def campaign_star_set(*, campaign: Campaign, starred: bool) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(starred=starred)
    campaign.starred = starred


def campaigns_bulk_action(*, tenant, actor, ids: list[str], action: str) -> BulkOutcome:
    """Apply `action` to each selected campaign of `tenant` in its own transaction.

    Unknown ids and other tenants' ids are ignored (they never match the tenant filter).
    """
    if action not in BULK_ACTIONS:
        raise ValueError(f"Unknown bulk action {action!r}")
    outcome = BulkOutcome(action=action)
    for campaign in Campaign.objects.filter(tenant=tenant, pk__in=ids).order_by("name"):
        try:
            if action == "pause":
                services.campaign_pause(campaign=campaign)
                outcome.done.append(f"“{campaign.name}” paused")
            elif action == "resume":
                services.campaign_resume(campaign=campaign)
                outcome.done.append(f"“{campaign.name}” resumed")
            elif action == "cancel":
                services.campaign_cancel(campaign=campaign)
                outcome.done.append(f"“{campaign.name}” cancelled")
            elif action == "duplicate":
                copy = services.campaign_clone(campaign=campaign, actor=actor)
                outcome.done.append(f"“{copy.name}” created")
            elif action == "delete":
                result = services.campaign_delete(campaign=campaign)
                outcome.done.append(f"“{campaign.name}” {result}")
        except IllegalTransition as exc:
            outcome.refused.append(str(exc))
    return outcome
