"""Writes for drip and triggered campaigns: readiness and launch.

A drip or triggered campaign is launched here rather than through campaigns.services.campaign_launch,
whose readiness checks look for one piece of content per channel and an audience; a journey has
its content in its send steps and its audience in its trigger. The lifecycle transitions and the
run are the same: one long-lived CampaignRun (the fan-out task hands it to the journey engine,
which opens it without a snapshot).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from campaigns import lifecycle
from campaigns.journeys.engine import journey_run_open
from campaigns.journeys.triggers import trigger_errors
from campaigns.journeys.workflow import journey_channels, workflow_errors, workflow_steps
from campaigns.lifecycle import Action
from campaigns.models import Campaign, CampaignTrigger, CampaignType, SendMode
from campaigns.selectors import campaign_channel_config
from campaigns.services import CampaignNotReady, run_create
from tenants.models import CHANNEL_LABELS


def journey_readiness_errors(campaign: Campaign, *, now: dt.datetime | None = None) -> list[str]:
    """What stops a drip or triggered campaign from starting, in words a marketer can act on."""
    now = now or timezone.now()
    problems: list[str] = []
    if campaign.type == CampaignType.BROADCAST:
        problems.append("This is a broadcast: it has no workflow.")
    if not campaign.tenant.campaigns_enabled:
        problems.append("Campaigns are switched off for this workspace.")
    problems.extend(trigger_errors(CampaignTrigger.objects.filter(campaign=campaign).first()))
    steps = workflow_steps(campaign)
    errors = workflow_errors(campaign, steps)
    problems.extend(errors.get(None, []))
    numbered = {s.pk: s for s in steps}
    for step_id, messages in errors.items():
        if step_id is not None:
            problems.extend(f"Step {numbered[step_id].position}: {m}" for m in messages)
    for channel in journey_channels(campaign):
        if campaign_channel_config(campaign, channel) is None:
            problems.append(f"{CHANNEL_LABELS[channel]} has no enabled channel configuration.")
    if campaign.send_mode == SendMode.SCHEDULED and (campaign.scheduled_at is None or campaign.scheduled_at <= now):
        problems.append("Choose a start time in the future, or start now.")
    return problems


def journey_campaign_launch(*, campaign: Campaign, now: dt.datetime | None = None) -> Campaign:
    """Start now (or schedule) a drip or triggered campaign. Raises CampaignNotReady or IllegalTransition."""
    now = now or timezone.now()
    problems = journey_readiness_errors(campaign, now=now)
    if problems:
        raise CampaignNotReady(problems)
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(channels=journey_channels(campaign))
        if campaign.send_mode == SendMode.SCHEDULED:
            return lifecycle.transition(campaign, Action.SCHEDULE, next_run_at=campaign.scheduled_at)
        campaign = lifecycle.transition(campaign, Action.SEND_NOW, next_run_at=None)
        run = run_create(campaign=campaign, occurrence_at=now)
        if run is not None:
            journey_run_open(run_id=run.pk)  # sending at once; the enqueued fan-out finds it open
    return campaign


def trigger_save(*, campaign: Campaign, values: dict) -> CampaignTrigger:
    """Create or change the campaign's trigger (the editor validates `values` first)."""
    trigger, _ = CampaignTrigger.objects.get_or_create(tenant_id=campaign.tenant_id, campaign=campaign)
    for name, value in values.items():
        setattr(trigger, name, value)
    trigger.save()
    return trigger
