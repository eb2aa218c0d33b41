"""A campaign's workflow as a graph: where each step leads, what makes it invalid, and the writes
the editor makes (add, remove, move, update), each renumbering positions in one place.

Validation rules (all reported at once, in words for the marketer):
- at least one step, and every send/wait/condition step is complete;
- no step is unreachable from the first one;
- no loop without a wait (a journey would spin inside one tick);
- a condition's branches point at steps of this workflow, and an engagement condition tests a
  send step that comes before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Max

from audiences.segments import SegmentRuleError, compile_rules
from campaigns.content import content_for
from campaigns.models import (
    ENGAGEMENT_CONDITIONS,
    MAX_STEPS,
    Campaign,
    ConditionKind,
    StepKind,
    WaitMode,
    WorkflowStep,
)
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS

# Channels a journey can send on: social posts go to accounts, not to a contact.
JOURNEY_CHANNELS = tuple(ch for ch in CHANNEL_KEYS if ch != "social")


def workflow_steps(campaign: Campaign) -> list[WorkflowStep]:
    return list(WorkflowStep.objects.filter(campaign=campaign).order_by("position"))


def following(step: WorkflowStep, steps: list[WorkflowStep]) -> WorkflowStep | None:
    """The step below `step` in the list, or None after the last."""
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    return steps[index + 1] if index + 1 < len(steps) else None


def _by_id(steps: Iterable[WorkflowStep]) -> dict:
    return {s.pk: s for s in steps}


def next_of(step: WorkflowStep, steps: list[WorkflowStep]) -> WorkflowStep | None:
    """Where a send or wait step leads (None: the journey completes)."""
    if step.next_step_id:
        return _by_id(steps).get(step.next_step_id)
    return following(step, steps)


def branches_of(step: WorkflowStep, steps: list[WorkflowStep]) -> tuple[WorkflowStep | None, WorkflowStep | None]:
    """(yes target, no target) of a condition step."""
    index = _by_id(steps)
    below = following(step, steps)
    yes = index.get(step.yes_next_id) if step.yes_next_id else below
    no = index.get(step.no_next_id) if step.no_next_id else below
    return yes, no


def successors(step: WorkflowStep, steps: list[WorkflowStep]) -> list[WorkflowStep]:
    if step.kind == StepKind.EXIT:
        return []
    if step.kind == StepKind.CONDITION:
        return [s for s in branches_of(step, steps) if s is not None]
    nxt = next_of(step, steps)
    return [nxt] if nxt is not None else []


def step_errors(step: WorkflowStep, steps: list[WorkflowStep], *, tenant=None) -> list[str]:
    """What is wrong with one step on its own (fields and references)."""
    problems: list[str] = []
    ids = {s.pk for s in steps}
    numbers_before = {s.pk for s in steps if s.position < step.position}
    if step.kind == StepKind.SEND:
        if step.channel not in JOURNEY_CHANNELS:
            problems.append("Choose a channel.")
        else:
            if tenant is not None and not tenant.channel_enabled(step.channel):
                problems.append(f"{CHANNEL_LABELS[step.channel]} is switched off for this workspace.")
            typed = content_for(step.channel, step.data)
            for messages in typed.errors().values():
                problems.extend(messages)
    elif step.kind == StepKind.WAIT:
        if step.wait_mode == WaitMode.DURATION and step.wait_minutes <= 0:
            problems.append("Wait for at least one minute.")
        if step.wait_mode == WaitMode.UNTIL_TIME and step.wait_until is None:
            problems.append("Choose the time of day to wait for.")
    elif step.kind == StepKind.CONDITION:
        if step.condition_kind in ENGAGEMENT_CONDITIONS:
            target = _by_id(steps).get(step.condition_step_id)
            if target is None or target.kind != StepKind.SEND:
                problems.append("Choose the send step this condition looks at.")
            elif target.pk not in numbers_before:
                problems.append("A condition can only look at a send step above it.")
        elif step.condition_kind in (ConditionKind.ATTRIBUTE, ConditionKind.TAG):
            try:
                compile_rules({"match": "all", "rules": [step.condition_rule or {}]})
            except SegmentRuleError as exc:
                problems.append(f"Condition: {exc}")
        else:
            problems.append("Choose what the condition tests.")
        for label, ref in (("yes", step.yes_next_id), ("no", step.no_next_id)):
            if ref is not None and ref not in ids:
                problems.append(f"The “{label}” branch points at a step that is not in this workflow.")
    if step.next_step_id is not None and step.next_step_id not in ids:
        problems.append("“Then go to” points at a step that is not in this workflow.")
    return problems


def workflow_errors(campaign: Campaign, steps: list[WorkflowStep] | None = None) -> dict[Any, list[str]]:
    """{step id: [problems]} plus {None: [workflow-wide problems]}; empty when the workflow is valid."""
    steps = workflow_steps(campaign) if steps is None else steps
    problems: dict[Any, list[str]] = {}
    if not steps:
        return {None: ["Add at least one step."]}
    if len(steps) > MAX_STEPS:
        problems[None] = [f"A workflow holds at most {MAX_STEPS} steps."]
    if not any(s.kind == StepKind.SEND for s in steps):
        problems.setdefault(None, []).append("Add at least one send step.")
    for step in steps:
        errors = step_errors(step, steps, tenant=campaign.tenant)
        if errors:
            problems[step.pk] = errors

    reachable = {steps[0].pk}
    frontier = [steps[0]]
    while frontier:
        for nxt in successors(frontier.pop(), steps):
            if nxt.pk not in reachable:
                reachable.add(nxt.pk)
                frontier.append(nxt)
    for step in steps:
        if step.pk not in reachable:
            problems.setdefault(step.pk, []).append("No path leads to this step: point a step or branch at it, "
                                                    "or remove it.")

    for cycle_step in _loops_without_wait(steps):
        problems.setdefault(cycle_step.pk, []).append("This step is part of a loop with no wait step in it.")
    return problems


def _loops_without_wait(steps: list[WorkflowStep]) -> list[WorkflowStep]:
    """Steps on a cycle made only of non-wait steps (depth-first search on that subgraph)."""
    graph = {s.pk: [n for n in successors(s, steps) if n.kind != StepKind.WAIT]
             for s in steps if s.kind != StepKind.WAIT}
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    on_cycle: set = set()
    stack: list = []

    def visit(node) -> None:
        color[node] = grey
        stack.append(node)
        for nxt in graph[node]:
            if color[nxt.pk] == grey:
                on_cycle.update(stack[stack.index(nxt.pk):])
            elif color[nxt.pk] == white:
                visit(nxt.pk)
        stack.pop()
        color[node] = black

    for node in graph:
        if color[node] == white:
            visit(node)
    return [s for s in steps if s.pk in on_cycle]


def step_contents(campaign: Campaign, channel: str) -> dict[int, dict]:
    """{step number: content data} of the campaign's send steps on one channel (for dispatch)."""
    return dict(WorkflowStep.objects.filter(campaign=campaign, kind=StepKind.SEND, channel=channel)
                .values_list("number", "data"))


def journey_channels(campaign: Campaign) -> list[str]:
    used = set(WorkflowStep.objects.filter(campaign=campaign, kind=StepKind.SEND).values_list("channel", flat=True))
    return [ch for ch in JOURNEY_CHANNELS if ch in used]


# --- writes (the editor) ------------------------------------------------------------------------

def _renumber(campaign: Campaign) -> None:
    for position, step in enumerate(WorkflowStep.objects.filter(campaign=campaign).order_by("position", "number"), 1):
        if step.position != position:
            WorkflowStep.objects.filter(pk=step.pk).update(position=position)


def _sync_channels(campaign: Campaign) -> None:
    # Dispatch and the scheduler walk campaign.channels: keep it the set of channels the steps use.
    channels = journey_channels(campaign)
    if channels != campaign.channels:
        Campaign.objects.filter(pk=campaign.pk).update(channels=channels)
        campaign.channels = channels


class WorkflowFull(Exception):
    pass


def step_add(*, campaign: Campaign, kind: str, after: WorkflowStep | None = None) -> WorkflowStep:
    """A new step of `kind` below `after` (or at the end)."""
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # serialises number allocation
        existing = WorkflowStep.objects.filter(campaign=campaign)
        if existing.count() >= MAX_STEPS:
            raise WorkflowFull(f"A workflow holds at most {MAX_STEPS} steps.")
        number = (existing.aggregate(n=Max("number"))["n"] or 0) + 1
        if after is None:
            position = (existing.aggregate(p=Max("position"))["p"] or 0) + 1
        else:
            position = after.position + 1
            existing.filter(position__gte=position).update(position=F("position") + 1)
        defaults: dict[str, Any] = {}
        if kind == StepKind.WAIT:
            defaults = {"wait_minutes": 24 * 60}
        elif kind == StepKind.SEND:
            defaults = {"channel": next((ch for ch in campaign.tenant.enabled_channels if ch in JOURNEY_CHANNELS), "email")}
        elif kind == StepKind.CONDITION:
            defaults = {"condition_kind": ConditionKind.OPENED}
        step = WorkflowStep.objects.create(tenant_id=campaign.tenant_id, campaign=campaign, kind=kind,
                                           number=number, position=position, **defaults)
        _renumber(campaign)
        _sync_channels(campaign)
    step.refresh_from_db()
    return step


def step_remove(*, step: WorkflowStep) -> None:
    """Remove a step; references to it fall back to "the step below" (shown by validation)."""
    campaign = step.campaign
    with transaction.atomic():
        step.delete()
        _renumber(campaign)
        _sync_channels(campaign)


def step_move(*, step: WorkflowStep, offset: int) -> None:
    """Move a step up (-1) or down (+1) the list by swapping positions with its neighbour."""
    with transaction.atomic():
        steps = list(WorkflowStep.objects.select_for_update().filter(campaign_id=step.campaign_id).order_by("position"))
        index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        target = index + offset
        if not 0 <= target < len(steps):
            return
        steps[index], steps[target] = steps[target], steps[index]
        for position, s in enumerate(steps, 1):
            WorkflowStep.objects.filter(pk=s.pk).update(position=position)


EDITABLE_FIELDS = ("channel", "data", "wait_mode", "wait_minutes", "wait_until", "condition_kind", "condition_step",
                   "condition_rule", "yes_next", "no_next", "next_step")


def step_update(*, step: WorkflowStep, values: dict[str, Any]) -> WorkflowStep:
    """Write the editor's fields (never the engine's counters)."""
    for name in EDITABLE_FIELDS:
        if name in values:
            setattr(step, name, values[name])
    with transaction.atomic():
        step.save(update_fields=[f for f in EDITABLE_FIELDS if f in values])
        _sync_channels(step.campaign)
    return step
