"""The workflow editor: building a journey step by step with htmx, validation (unreachable steps,
loops without a wait, broken branches), the trigger form, starting, per-step statistics, and
who may do what."""

from __future__ import annotations

import pytest

from audiences.models import Segment
from campaigns.journeys.workflow import step_add, step_update, workflow_errors
from campaigns.models import (
    Campaign,
    CampaignStatus,
    CampaignTrigger,
    CampaignType,
    ConditionKind,
    StepKind,
    TriggerKind,
    WorkflowStep,
)
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def drip(tenant_a):
    with tenant_scope(tenant_a):
        return Campaign.objects.create(tenant=tenant_a, name="Welcome series", type=CampaignType.DRIP)


def url(tenant, campaign, suffix=""):
    return f"/t/{tenant.slug}/campaigns/{campaign.pk}/workflow/{suffix}"


def steps_of(tenant, campaign):
    with tenant_scope(tenant):
        return list(WorkflowStep.objects.filter(campaign=campaign).order_by("position"))


def test_a_marketer_builds_a_send_then_wait_workflow_with_htmx(tenant_a, drip, marketer_client):
    hx = {"HTTP_HX_REQUEST": "true"}
    response = marketer_client.post(url(tenant_a, drip, "steps/"), {"kind": "send"}, **hx)
    assert response.status_code == 200 and 'id="workflow"' in response.content.decode()
    send = steps_of(tenant_a, drip)[0]
    response = marketer_client.post(url(tenant_a, drip, f"steps/{send.pk}/"), {
        "channel": "email", "content_subject": "Welcome {{ first_name }}", "content_html": "<p>Hello</p>",
        "next_step": ""}, **hx)
    assert response.status_code == 200
    marketer_client.post(url(tenant_a, drip, "steps/"), {"kind": "wait"}, **hx)
    wait = steps_of(tenant_a, drip)[1]
    marketer_client.post(url(tenant_a, drip, f"steps/{wait.pk}/"), {
        "wait_mode": "duration", "wait_amount": "2", "wait_unit": "days", "next_step": ""}, **hx)
    send, wait = steps_of(tenant_a, drip)
    assert send.data["subject"] == "Welcome {{ first_name }}" and send.channel == "email"
    assert wait.wait_minutes == 2 * 24 * 60
    with tenant_scope(tenant_a):
        assert Campaign.objects.get(pk=drip.pk).channels == ["email"]
    page = marketer_client.get(url(tenant_a, drip)).content.decode()
    assert "Welcome {{ first_name }}" in page and "2 days" in page


def test_bad_step_content_is_shown_and_nothing_is_lost(tenant_a, drip, marketer_client):
    with tenant_scope(tenant_a):
        send = step_add(campaign=drip, kind=StepKind.SEND)
    response = marketer_client.post(url(tenant_a, drip, f"steps/{send.pk}/"), {
        "channel": "email", "content_subject": "", "content_html": "<p>Kept {{ first_name </p>"},
        HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "An email needs a subject." in page
    assert "Kept {{ first_name" in page  # the marketer's text is still in the form
    assert steps_of(tenant_a, drip)[0].data == {}


def test_reordering_and_removing_steps(tenant_a, drip, marketer_client):
    with tenant_scope(tenant_a):
        a = step_add(campaign=drip, kind=StepKind.SEND)
        b = step_add(campaign=drip, kind=StepKind.WAIT)
    marketer_client.post(url(tenant_a, drip, f"steps/{b.pk}/move/"), {"direction": "up"})
    assert [s.pk for s in steps_of(tenant_a, drip)] == [b.pk, a.pk]
    marketer_client.post(url(tenant_a, drip, f"steps/{b.pk}/delete/"))
    remaining = steps_of(tenant_a, drip)
    assert [(s.pk, s.position) for s in remaining] == [(a.pk, 1)]


def test_validation_finds_unreachable_steps_loops_without_a_wait_and_untested_conditions(tenant_a, drip):
    with tenant_scope(tenant_a):
        send = step_add(campaign=drip, kind=StepKind.SEND)
        step_update(step=send, values={"channel": "email", "data": {"subject": "Hi", "html": "<p>x</p>"}})
        cond = step_add(campaign=drip, kind=StepKind.CONDITION)
        end = step_add(campaign=drip, kind=StepKind.EXIT)
        orphan = step_add(campaign=drip, kind=StepKind.SEND)
        step_update(step=orphan, values={"channel": "email", "data": {"subject": "Lost", "html": "<p>x</p>"}})
        # yes: back to the send (a loop with no wait); no: the exit. Nothing leads to `orphan`.
        step_update(step=cond, values={"condition_kind": ConditionKind.OPENED, "condition_step": None,
                                       "yes_next": send, "no_next": end})
        errors = workflow_errors(drip)
        assert "This step is part of a loop with no wait step in it." in errors[send.pk]
        assert "Choose the send step this condition looks at." in errors[cond.pk]
        assert any("No path leads to this step" in e for e in errors[orphan.pk])

        wait = step_add(campaign=drip, kind=StepKind.WAIT, after=send)
        step_update(step=cond, values={"yes_next": wait, "condition_step": send})
        step_update(step=orphan, values={"next_step": None})
        step_update(step=end, values={})
        WorkflowStep.objects.filter(pk=orphan.pk).delete()
        assert workflow_errors(drip) == {}  # a loop through a wait is allowed


def test_the_trigger_form_saves_an_event_trigger_with_a_property_filter(tenant_a, drip, marketer_client):
    response = marketer_client.post(url(tenant_a, drip, "trigger/"), {
        "kind": "event", "event_name": "cart_abandoned", "filter_key": "cart_value", "filter_op": "gte",
        "filter_value": "1000", "frequency": "interval", "frequency_days": "7", "days_offset": "0",
        "time_of_day": "09:00"})
    assert response.status_code == 302
    with tenant_scope(tenant_a):
        trigger = CampaignTrigger.objects.get(campaign=drip)
    assert (trigger.kind, trigger.event_name, trigger.frequency_days) == ("event", "cart_abandoned", 7)
    assert trigger.event_filter == [{"key": "cart_value", "op": "gte", "value": "1000"}]


def test_a_trigger_missing_its_segment_says_so(tenant_a, drip, marketer_client):
    response = marketer_client.post(url(tenant_a, drip, "trigger/"), {
        "kind": "segment_entry", "frequency": "once", "days_offset": "0", "time_of_day": "09:00"})
    assert response.status_code == 200
    assert "Choose the segment whose new members enter the campaign." in response.content.decode()


def test_start_refuses_an_incomplete_campaign_and_starts_a_complete_one(tenant_a, drip, marketer_client):
    response = marketer_client.post(url(tenant_a, drip, "start/"), follow=True)
    assert "Add at least one step." in response.content.decode()
    with tenant_scope(tenant_a):
        from channels.models import ChannelConfig

        config = ChannelConfig(tenant=tenant_a, name="mail", channel="email", provider="sandbox", settings={},
                               rate_per_second=10.0, is_default=True)
        config.set_secrets({})
        config.save()
        segment = Segment.objects.create(tenant=tenant_a, name="All", rules={})
        CampaignTrigger.objects.create(tenant=tenant_a, campaign=drip, kind=TriggerKind.SEGMENT_ENTRY, segment=segment)
        send = step_add(campaign=drip, kind=StepKind.SEND)
        step_update(step=send, values={"channel": "email", "data": {"subject": "Hi", "html": "<p>x</p>"}})
    response = marketer_client.post(url(tenant_a, drip, "start/"), follow=True)
    assert "is live" in response.content.decode()
    with tenant_scope(tenant_a):
        assert Campaign.objects.get(pk=drip.pk).status == CampaignStatus.ACTIVE
    page = marketer_client.get(url(tenant_a, drip)).content.decode()
    assert "Entered" in page and "Add a step" not in page  # statistics, and no editing once live


def test_an_analyst_sees_the_workflow_but_cannot_change_it(tenant_a, drip, analyst_client):
    with tenant_scope(tenant_a):
        step = step_add(campaign=drip, kind=StepKind.WAIT)
    page = analyst_client.get(url(tenant_a, drip))
    assert page.status_code == 200 and "Add a step" not in page.content.decode()
    assert analyst_client.post(url(tenant_a, drip, "steps/"), {"kind": "send"}).status_code == 403
    assert analyst_client.post(url(tenant_a, drip, f"steps/{step.pk}/delete/")).status_code == 403
    assert len(steps_of(tenant_a, drip)) == 1


def test_another_tenants_campaign_and_steps_answer_404(tenant_a, drip, outsider_client, tenant_b):
    with tenant_scope(tenant_a):
        step = step_add(campaign=drip, kind=StepKind.WAIT)
    assert outsider_client.get(f"/t/{tenant_b.slug}/campaigns/{drip.pk}/workflow/").status_code == 404
    assert outsider_client.post(f"/t/{tenant_b.slug}/campaigns/{drip.pk}/workflow/steps/{step.pk}/delete/").status_code == 404
    assert outsider_client.get(url(tenant_a, drip)).status_code == 404


def test_a_broadcast_has_no_workflow_page(tenant_a, marketer_client):
    with tenant_scope(tenant_a):
        broadcast = Campaign.objects.create(tenant=tenant_a, name="Sale", type=CampaignType.BROADCAST)
    assert marketer_client.get(url(tenant_a, broadcast)).status_code == 404
