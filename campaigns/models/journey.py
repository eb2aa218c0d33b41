"""Drip and triggered campaigns: what lets a contact in (trigger, entry frequency), the ordered
workflow of steps, and each contact's journey through it.

A journey row is written once per entry and never deleted, so the journeys table is also the
entry log the frequency rules read ("once": any journey; "at most once per N days": a journey
entered in the last N days). Deliveries of a journey go to the campaign's one long-lived
CampaignRun with `Delivery.step = delivery_step(entry_number, step.number)`, which keeps the
(run, contact, channel, step) uniqueness true for a contact who enters again.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.models.campaign import CHANNEL_CHOICES, Campaign
from tenants.models import TenantOwnedModel

# Delivery.step = entry_number * STEP_STRIDE + step.number; a workflow holds fewer steps than this.
STEP_STRIDE = 1000
MAX_STEPS = 100


def delivery_step(entry_number: int, step_number: int) -> int:
    return entry_number * STEP_STRIDE + step_number


def step_number_of(delivery_step_value: int) -> int:
    return delivery_step_value % STEP_STRIDE


class TriggerKind(models.TextChoices):
    SEGMENT_ENTRY = "segment_entry", "A contact enters a segment"
    EVENT = "event", "An event occurs"
    DATE_ATTRIBUTE = "date_attribute", "A date comes round (birthday, anniversary)"


class EntryFrequency(models.TextChoices):
    ONCE = "once", "Once per contact"
    EVERY_TIME = "every_time", "Every time the trigger fires"
    INTERVAL = "interval", "At most once every N days"


CREATED_DATE = "created"  # CampaignTrigger.date_attribute meaning the contact's creation date


class CampaignTrigger(TenantOwnedModel):
    """How contacts enter a drip or triggered campaign, and how often they may enter again."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="trigger")
    kind = models.CharField(max_length=16, choices=TriggerKind.choices, default=TriggerKind.SEGMENT_ENTRY)
    segment = models.ForeignKey("audiences.Segment", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    event_name = models.CharField(max_length=64, blank=True)
    # [{"key": "cart_value", "op": "gte", "value": "1000"}, ...]: all must hold (see journeys.triggers).
    event_filter = models.JSONField(default=list, blank=True)
    # A custom attribute holding "YYYY-MM-DD" (birthday, anniversary), or "created".
    date_attribute = models.CharField(max_length=64, blank=True)
    days_offset = models.SmallIntegerField(default=0, validators=[MinValueValidator(-60), MaxValueValidator(60)],
                                           help_text="Days after the date (negative: before it).")
    time_of_day = models.TimeField(default=dt.time(9, 0), help_text="Local time in the contact's time zone.")
    frequency = models.CharField(max_length=10, choices=EntryFrequency.choices, default=EntryFrequency.ONCE)
    frequency_days = models.PositiveSmallIntegerField(null=True, blank=True,
                                                      validators=[MinValueValidator(1), MaxValueValidator(3650)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(frequency="interval") | Q(frequency_days__gte=1),
                                   name="campaigntrigger_interval_has_days"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.get_kind_display()}"


class TriggerMembership(TenantOwnedModel):
    """Who was in a segment-entry trigger's segment at the last check, so that a later check sees
    who entered (and, for "every time", who left and came back)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("audiences.Contact", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="triggermembership_unique")]


class StepKind(models.TextChoices):
    SEND = "send", "Send a message"
    WAIT = "wait", "Wait"
    CONDITION = "condition", "Condition"
    EXIT = "exit", "Exit"


class WaitMode(models.TextChoices):
    DURATION = "duration", "For a duration"
    UNTIL_TIME = "until_time", "Until a time of day"


class ConditionKind(models.TextChoices):
    OPENED = "opened", "Opened (or clicked) a message"
    CLICKED = "clicked", "Clicked a link in a message"
    REPLIED = "replied", "Replied to a message"
    ATTRIBUTE = "attribute", "Custom attribute test"
    TAG = "tag", "Has a tag"


ENGAGEMENT_CONDITIONS = frozenset({ConditionKind.OPENED, ConditionKind.CLICKED, ConditionKind.REPLIED})


class WorkflowStep(TenantOwnedModel):
    """One step of a campaign's workflow. `position` orders the list; `number` never changes once
    given, so deliveries, conditions and statistics keep pointing at the same step after a reorder.

    A null `next_step` (or yes/no branch) means "the step below", and after the last step the
    journey completes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(STEP_STRIDE - 1)])
    kind = models.CharField(max_length=10, choices=StepKind.choices)

    # send
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES, blank=True)
    data = models.JSONField(default=dict, blank=True)  # campaigns.content class of the channel

    # wait
    wait_mode = models.CharField(max_length=10, choices=WaitMode.choices, default=WaitMode.DURATION)
    wait_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(365 * 24 * 60)])
    wait_until = models.TimeField(null=True, blank=True)

    # condition
    condition_kind = models.CharField(max_length=10, choices=ConditionKind.choices, blank=True)
    condition_step = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # ATTRIBUTE / TAG: one audiences.segments rule ({"field": "attribute", "key": ..., "op": ..., "value": ...}).
    condition_rule = models.JSONField(default=dict, blank=True)
    yes_next = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    no_next = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    next_step = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # Counters written by the journey engine in the same transaction that moves the journeys.
    entered_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="workflowstep_unique_number"),
        ]

    def __str__(self) -> str:
        return f"Step {self.number}: {self.get_kind_display()}"


class JourneyState(models.TextChoices):
    ACTIVE = "active", "Active"          # due to run its current step at next_due_at
    WAITING = "waiting", "Waiting"       # inside a wait step until next_due_at
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


LIVE_STATES = (JourneyState.ACTIVE, JourneyState.WAITING)


class ExitReason(models.TextChoices):
    EXIT_STEP = "exit_step", "Reached an exit step"
    OPTED_OUT = "opted_out", "Opted out of the step's channel"
    UNREACHABLE = "unreachable", "No address or consent for the step's channel"
    CANCELLED = "cancelled", "Campaign cancelled"
    STEP_REMOVED = "step_removed", "Its step no longer exists"


class Journey(TenantOwnedModel):
    """One contact's way through one campaign's workflow, from one entry."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="journeys")
    contact = models.ForeignKey("audiences.Contact", on_delete=models.CASCADE, related_name="journeys")
    # Where the journey is now; for a finished one, the step where it ended.
    step = models.ForeignKey(WorkflowStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="journeys")
    state = models.CharField(max_length=10, choices=JourneyState.choices, default=JourneyState.ACTIVE)
    next_due_at = models.DateTimeField(null=True, blank=True)
    entry_number = models.PositiveIntegerField(default=0)  # 0 for a contact's first entry, then 1, 2 ...
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=16, choices=ExitReason.choices, blank=True)
    # What let the contact in: "segment", "event:<name>", "date:<attribute>".
    source = models.CharField(max_length=80, blank=True)
    event = models.ForeignKey("campaigns.ContactEvent", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        constraints = [
            # A contact walks one campaign's workflow once at a time, whatever the frequency.
            models.UniqueConstraint(fields=["campaign", "contact"], condition=Q(state__in=["active", "waiting"]),
                                    name="journey_one_live_per_contact"),
            models.UniqueConstraint(fields=["campaign", "contact", "entry_number"], name="journey_unique_entry"),
        ]
        indexes = [
            # The engine's due scan: live journeys by due time.
            models.Index(fields=["next_due_at"], condition=Q(state__in=["active", "waiting"]), name="journey_due"),
            # Frequency checks and per-step statistics.
            models.Index(fields=["campaign", "contact", "-entered_at"], name="journey_contact_entries"),
            models.Index(fields=["campaign", "state", "step"], name="journey_campaign_state"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.campaign_id} ({self.state})"


class ContactEvent(TenantOwnedModel):
    """Something a contact did, reported by the tenant's systems (POST /api/v1/events)."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contact = models.ForeignKey("audiences.Contact", on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=64)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "name", "-occurred_at"], name="contactevent_name"),
            models.Index(fields=["contact", "-occurred_at"], name="contactevent_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.contact_id})"
