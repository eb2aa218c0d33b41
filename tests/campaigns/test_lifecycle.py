"""The lifecycle's full transition table, and its behaviour under concurrency on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns import lifecycle
from campaigns.lifecycle import TRANSITIONS, Action, IllegalTransition
from campaigns.models import Campaign, CampaignStatus
from tenants.scoping import tenant_scope
from tests.campaigns.factories_grid import campaign

S = CampaignStatus
EXPECTED = {
    # action: {source status: target status}; every other source must be refused.
    Action.SCHEDULE: {S.DRAFT: S.SCHEDULED},
    Action.UNSCHEDULE: {S.SCHEDULED: S.DRAFT},
    Action.SEND_NOW: {S.DRAFT: S.ACTIVE, S.SCHEDULED: S.ACTIVE},
    Action.START: {S.SCHEDULED: S.ACTIVE},
    Action.PAUSE: {S.ACTIVE: S.PAUSED, S.SCHEDULED: S.PAUSED},
    Action.RESUME: {S.PAUSED: S.ACTIVE},
    Action.CANCEL: {S.SCHEDULED: S.CANCELLED, S.ACTIVE: S.CANCELLED, S.PAUSED: S.CANCELLED},
    Action.COMPLETE: {S.ACTIVE: S.COMPLETED},
    Action.FAIL: {S.ACTIVE: S.FAILED, S.SCHEDULED: S.FAILED},
    Action.RETRY_FAILED: {S.ACTIVE: S.ACTIVE, S.COMPLETED: S.ACTIVE, S.FAILED: S.ACTIVE},
    Action.RESCHEDULE: {S.ACTIVE: S.SCHEDULED},
}
CASES = [(action, status) for action in EXPECTED for status in S.values]


def test_the_table_covers_every_action():
    assert set(EXPECTED) == set(TRANSITIONS)


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_every_action_from_every_status(in_tenant_a, action, status):
    c = campaign(in_tenant_a, status=status)
    before = Campaign.objects.values().get(pk=c.pk)
    target = EXPECTED[action].get(status)
    if target is not None:
        lifecycle.transition(c, action)
        c.refresh_from_db()
        assert c.status == target
        assert c.version == before["version"] + 1
        assert action in lifecycle.allowed_actions(status)
    else:
        with pytest.raises(IllegalTransition) as exc:
            lifecycle.transition(c, action)
        # The message names the campaign and its current state, and nothing changed.
        assert "Spring sale" in str(exc.value) and S(status).label.lower() in str(exc.value)
        assert Campaign.objects.values().get(pk=c.pk) == before
        assert action not in lifecycle.allowed_actions(status)


def test_an_archived_campaign_refuses_every_transition(in_tenant_a):
    from django.utils import timezone

    c = campaign(in_tenant_a, status=S.ACTIVE, archived_at=timezone.now())
    with pytest.raises(IllegalTransition):
        lifecycle.transition(c, Action.PAUSE)
    c.refresh_from_db()
    assert c.status == S.ACTIVE


@pytest.mark.parametrize("status", [S.ACTIVE, S.PAUSED, S.COMPLETED, S.CANCELLED, S.FAILED])
def test_only_drafts_and_scheduled_campaigns_are_editable(in_tenant_a, status):
    c = campaign(in_tenant_a, status=status)
    with pytest.raises(IllegalTransition, match="Clone it"):
        lifecycle.ensure_editable(c)
    lifecycle.ensure_editable(campaign(in_tenant_a, "Editable", status=S.DRAFT))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("first", "second"), [(Action.PAUSE, Action.COMPLETE), (Action.PAUSE, Action.PAUSE),
                                               (Action.COMPLETE, Action.CANCEL)])
def test_two_concurrent_transitions_exactly_one_wins(tenant_a, first, second):
    """Two threads, two connections, released together, asking for changes that exclude each other:
    the conditional UPDATE lets exactly one through."""
    with tenant_scope(tenant_a):
        c = campaign(tenant_a, status=S.ACTIVE)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(action):
        try:
            with tenant_scope(tenant_a):
                mine = Campaign.objects.get(pk=c.pk)
                barrier.wait()
                lifecycle.transition(mine, action)
                outcomes.append("won")
        except IllegalTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "won"]
    with tenant_scope(tenant_a):
        c.refresh_from_db()
        assert c.version == 1
        assert c.status in (TRANSITIONS[first].target, TRANSITIONS[second].target)
