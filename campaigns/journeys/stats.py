"""Per-step figures for the workflow page: entered (a counter the engine keeps), sent, delivered,
read or clicked, replied (grouped from the campaign's deliveries by step), in the step now and
ended at the step (grouped from journeys), and converted (deliveries of the step that led to a
tracked conversion: analytics' click redirects and conversions API)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from campaigns.models import (
    ACCEPTED_STATUSES,
    LIVE_STATES,
    Campaign,
    Delivery,
    DeliveryStatus,
    Journey,
    JourneyState,
    WorkflowStep,
    step_number_of,
)


@dataclass
class StepStats:
    entered: int = 0
    sent: int = 0
    skipped: int = 0
    delivered: int = 0
    engaged: int = 0  # read or clicked
    replied: int = 0
    converted: int = 0
    here: int = 0     # in this step now (waiting, or due)
    ended: int = 0    # completed or exited at this step
    opted_out: int = 0

    @property
    def engaged_rate(self) -> int | None:
        return round(100 * self.engaged / self.sent) if self.sent else None


def workflow_stats(campaign: Campaign, steps: list[WorkflowStep]) -> dict:
    """{step id: StepStats} for every step of the workflow."""
    by_number = {s.number: s.pk for s in steps}
    out = {s.pk: StepStats(entered=s.entered_count) for s in steps}
    rows = (Delivery.objects.filter(campaign=campaign, is_test=False).values("step").order_by()
            .annotate(sent=Count("id", filter=Q(status__in=ACCEPTED_STATUSES)),
                      skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
                      delivered=Count("id", filter=Q(delivered_at__isnull=False)),
                      engaged=Count("id", filter=Q(read_at__isnull=False) | Q(clicked_at__isnull=False)),
                      replied=Count("id", filter=Q(replied_at__isnull=False))))
    for row in rows:
        step_id = by_number.get(step_number_of(row["step"]))
        if step_id is None:
            continue
        stats = out[step_id]
        for name in ("sent", "skipped", "delivered", "engaged", "replied"):
            setattr(stats, name, getattr(stats, name) + row[name])
    # Through the reverse relation: campaigns does not import analytics.
    conversions = (Delivery.objects.filter(campaign=campaign, is_test=False, conversions__isnull=False)
                   .values("step").order_by().annotate(converted=Count("id", distinct=True)))
    for row in conversions:
        step_id = by_number.get(step_number_of(row["step"]))
        if step_id is not None:
            out[step_id].converted += row["converted"]
    journeys = (Journey.objects.filter(campaign=campaign, step__isnull=False).values("step_id").order_by()
                .annotate(here=Count("id", filter=Q(state__in=LIVE_STATES)),
                          ended=Count("id", filter=Q(state__in=(JourneyState.COMPLETED, JourneyState.EXITED))),
                          opted_out=Count("id", filter=Q(exit_reason="opted_out"))))
    for row in journeys:
        if row["step_id"] in out:
            out[row["step_id"]].here = row["here"]
            out[row["step_id"]].ended = row["ended"]
            out[row["step_id"]].opted_out = row["opted_out"]
    return out


def journey_totals(campaign: Campaign) -> dict[str, int]:
    return Journey.objects.filter(campaign=campaign).aggregate(
        total=Count("id"), live=Count("id", filter=Q(state__in=LIVE_STATES)),
        completed=Count("id", filter=Q(state=JourneyState.COMPLETED)),
        exited=Count("id", filter=Q(state=JourneyState.EXITED)))
