"""Tracking end to end on PostgreSQL: links rewritten at send time, clicks (unique and total), the
open pixel, tamper-proof tokens bound to their tenant, counters that match a recomputation."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from analytics import tracking
from analytics.models import ClickEvent, Conversion, TrackedLink
from campaigns.engine import counters
from campaigns.engine.dispatch import MessageBuilder
from campaigns.engine.status import status_events_apply
from campaigns.models import DailyChannelStats, Delivery, DeliveryStatus, RunChannelStats
from channels.base import Stage, StatusEvent
from channels.models import ChannelConfig, OutboxMessage
from tenants.scoping import tenant_scope
from tests.analytics.helpers import contact, make_campaign, run_campaign, sandbox

pytestmark = pytest.mark.django_db(transaction=True)

CLICK = re.compile(r"http://[^/]+(/r/c/[A-Za-z0-9_-]+/)")
PIXEL = re.compile(r"http://[^/]+(/r/o/[A-Za-z0-9_-]+\.gif)")


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


@pytest.fixture
def sent(tenant_a):
    """An email + SMS campaign sent to two contacts through the sandbox."""
    with tenant_scope(tenant_a):
        sandbox(tenant_a, "email")
        sandbox(tenant_a, "sms")
        contact(tenant_a, 1)
        contact(tenant_a, 2)
        run = run_campaign(make_campaign(tenant_a))
    return run


def _sms_click_path(tenant, run, n=0) -> tuple[Delivery, str]:
    with tenant_scope(tenant):
        delivery = run.deliveries.filter(channel="sms").order_by("id")[n]
        message = OutboxMessage.objects.get(message_id=str(delivery.uuid))
    return delivery, CLICK.search(message.text).group(1)


def test_links_in_sms_and_email_are_rewritten_and_email_gets_an_open_pixel(sent, tenant_a):
    with tenant_scope(tenant_a):
        sms = OutboxMessage.objects.filter(channel="sms").first()
        email_delivery = sent.deliveries.filter(channel="email").first()
        built = MessageBuilder(sent.campaign, "email").build(email_delivery)
    assert "shop.example.com" not in sms.text
    assert CLICK.search(sms.text) and sms.text.rstrip().endswith("Reply STOP to opt out")
    assert "/r/c/" in built.html and "shop.example.com" not in built.html
    assert "mailto:help@example.com" in built.html  # not a web link: untouched
    assert PIXEL.search(built.html)
    with tenant_scope(tenant_a):
        urls = set(TrackedLink.objects.values_list("url", flat=True))
    # The HTML's &amp; is the URL's & once unescaped; each distinct URL is stored once.
    assert urls == {"https://shop.example.com/sale?x=1&y=2", "https://shop.example.com/sms"}


def test_a_campaign_without_link_tracking_sends_its_links_as_written(tenant_a):
    with tenant_scope(tenant_a):
        sandbox(tenant_a, "sms")
        contact(tenant_a, 1)
        run_campaign(make_campaign(tenant_a, channels=("sms",), track_links=False))
        assert "https://shop.example.com/sms" in OutboxMessage.objects.get().text
        assert not TrackedLink.objects.exists()


def test_a_click_redirects_and_counts_once_per_delivery_but_every_time_in_total(sent, tenant_a):
    delivery, path = _sms_click_path(tenant_a, sent)
    client = Client()
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == "https://shop.example.com/sms"
    with tenant_scope(tenant_a):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.CLICKED
        assert delivery.clicked_at and delivery.delivered_at and delivery.read_at  # implied stages
        assert ClickEvent.objects.filter(delivery=delivery).count() == 2  # total
        stats = RunChannelStats.objects.get(run=sent, channel="sms")
        assert stats.clicked == 1  # unique
        assert counters.reconcile(sent) == {}


@pytest.mark.parametrize("position", [0, 10, 22, -1, -8])
def test_a_tampered_token_answers_404_and_records_nothing(sent, tenant_a, position):
    delivery, path = _sms_click_path(tenant_a, sent)
    token = path.split("/")[3]
    i = position % len(token)
    flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    assert Client().get(f"/r/c/{flipped}/").status_code == 404
    assert Client().get(f"/r/c/{token[:-1]}/").status_code == 404
    with tenant_scope(tenant_a):
        delivery.refresh_from_db()
        assert delivery.clicked_at is None and not ClickEvent.objects.exists()
        assert RunChannelStats.objects.get(run=sent, channel="sms").clicked == 0


def test_a_token_signed_for_another_tenant_or_naming_another_campaigns_link_is_refused(sent, tenant_a, tenant_b):
    delivery, path = _sms_click_path(tenant_a, sent)
    link_id = tracking.click_token_peek(path.split("/")[3]).link_id
    forged = tracking.click_token(tenant_id=tenant_b.pk, delivery_uuid=delivery.uuid, link_id=link_id)
    assert Client().get(f"/r/c/{forged}/").status_code == 404
    with tenant_scope(tenant_b):
        other = make_campaign(tenant_b, channels=("sms",), name="B's campaign")
        foreign_link = TrackedLink.objects.create(tenant=tenant_b, campaign=other, url="https://evil.example/")
    # Correctly signed for A's delivery, but the link belongs to another tenant's campaign.
    mixed = tracking.click_token(tenant_id=tenant_a.pk, delivery_uuid=delivery.uuid, link_id=foreign_link.pk)
    assert Client().get(f"/r/c/{mixed}/").status_code == 404
    with tenant_scope(tenant_a):
        assert not ClickEvent.objects.exists()


def test_the_open_pixel_sets_read_once_and_never_moves_a_delivery_back(sent, tenant_a):
    with tenant_scope(tenant_a):
        email = sent.deliveries.filter(channel="email").order_by("id")
        first, second = email[0], email[1]
        pixel_first = PIXEL.search(MessageBuilder(sent.campaign, "email").build(first).html).group(1)
        pixel_second = PIXEL.search(MessageBuilder(sent.campaign, "email").build(second).html).group(1)
        config = ChannelConfig.objects.get(channel="email")
        clicked_at = timezone.now()
        status_events_apply(config=config, events=[StatusEvent(stage=Stage.CLICKED, message_id=str(second.uuid),
                                                               occurred_at=clicked_at)])
    response = Client().get(pixel_first)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert "no-cache" in response["Cache-Control"]
    with tenant_scope(tenant_a):
        first.refresh_from_db()
        read_at = first.read_at
    Client().get(pixel_first)
    Client().get(pixel_second)
    with tenant_scope(tenant_a):
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.status == DeliveryStatus.READ and first.read_at == read_at
        assert second.status == DeliveryStatus.CLICKED and second.read_at == clicked_at
        assert RunChannelStats.objects.get(run=sent, channel="email").read == 2
        assert counters.reconcile(sent) == {}


def test_a_pixel_or_click_on_a_failed_delivery_changes_nothing(sent, tenant_a):
    delivery, path = _sms_click_path(tenant_a, sent)
    with tenant_scope(tenant_a):
        config = ChannelConfig.objects.get(channel="sms")
        status_events_apply(config=config, events=[StatusEvent(stage=Stage.FAILED, message_id=str(delivery.uuid),
                                                               error_code="30003")])
    assert Client().get(path).status_code == 302  # the reader still reaches the page
    with tenant_scope(tenant_a):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.clicked_at is None
        assert counters.reconcile(sent) == {}


def test_counters_equal_a_recomputation_after_callbacks_clicks_and_opens(sent, tenant_a):
    with tenant_scope(tenant_a):
        email = list(sent.deliveries.filter(channel="email").order_by("id"))
        sms = list(sent.deliveries.filter(channel="sms").order_by("id"))
        sms_config = ChannelConfig.objects.get(channel="sms")
        email_config = ChannelConfig.objects.get(channel="email")
        status_events_apply(config=sms_config, events=[
            StatusEvent(stage=Stage.DELIVERED, message_id=str(sms[0].uuid)),
            StatusEvent(stage=Stage.FAILED, message_id=str(sms[1].uuid), error_code="21610", error_message="STOP"),
        ])
        status_events_apply(config=email_config, events=[
            StatusEvent(stage=Stage.DELIVERED, message_id=str(email[0].uuid)),
            StatusEvent(stage=Stage.REPLIED, message_id=str(email[1].uuid), text="Interested!"),
        ])
        pixel = PIXEL.search(MessageBuilder(sent.campaign, "email").build(email[0]).html).group(1)
    _, click = _sms_click_path(tenant_a, sent, 0)
    client = Client()
    for path in (pixel, pixel, click, click, f"{click}?conv=purchase", f"{click}?conv=purchase"):
        client.get(path)
    with tenant_scope(tenant_a):
        assert counters.reconcile(sent) == {}
        stats = {s.channel: s for s in RunChannelStats.objects.filter(run=sent)}
        assert (stats["sms"].sent, stats["sms"].delivered, stats["sms"].clicked, stats["sms"].failed) == (1, 1, 1, 1)
        assert (stats["email"].delivered, stats["email"].read, stats["email"].replied) == (2, 1, 1)
        daily = {d.channel: d for d in DailyChannelStats.objects.all()}
        assert (daily["sms"].clicked, daily["email"].read, daily["email"].replied) == (1, 1, 1)
        assert ClickEvent.objects.count() == 4
        # The landing conversion counts once, however often the page is reloaded.
        conversion = Conversion.objects.get()
        assert (conversion.event, conversion.delivery_id, conversion.campaign_id) == ("purchase", sms[0].pk,
                                                                                      sent.campaign_id)
