"""Batched email (campaigns/engine/email_batch.py): many recipients per SendGrid request, each
receiving exactly the email the one-by-one rendering gives them, tracked links and pixel included."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from audiences.models import ConsentState, Contact
from campaigns import services
from campaigns.engine.dispatch import MessageBuilder, run_dispatch
from campaigns.engine.email_batch import EmailShape, NotBatchable, expand
from campaigns.engine.fanout import run_fan_out
from campaigns.models import Campaign, CampaignContent, CampaignRun, DeliveryStatus
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

IN = ConsentState.OPTED_IN
HTML = ('<html><body><p>Hi {{ first_name | default: "friend" }} from {{ city }}!</p>'
        '<p>Your plan: {{ custom.plan | default: "basic" }}. '
        '<a href="https://shop.example.com/sale?x=1&amp;y=2">Shop now</a> or '
        '<a href="https://shop.example.com/help">help</a>, '
        '<a href="https://shop.example.com/sale?x=1&amp;y=2">again</a>.</p></body></html>')
AWKWARD_NAMES = ["Asha", "O'Brien & Sons", "<b>Bold</b>", "Zoë", "  padded ", "two  spaces", "tab\there",
                 "new\nline", "", "visit http://evil.example", "100%% sure", "&amp;", "Mary Ann", "Ünïcødé ✓"]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


def make_campaign(tenant, *, text="", preheader="Deals for {{ first_name }} & co", **kw) -> Campaign:
    kw.setdefault("track_links", True)
    kw.setdefault("track_reads", True)
    c = Campaign.objects.create(tenant=tenant, name="Batch", channels=["email"], audience_everyone=True, **kw)
    CampaignContent.objects.create(tenant=tenant, campaign=c, channel="email", data={
        "subject": "{{ first_name | default: \"Hello\" }}, 20% off in {{ city }}", "preheader": preheader,
        "html": HTML, "text": text})
    return c


def launch(c: Campaign) -> CampaignRun:
    c = services.campaign_launch(campaign=c)
    run = CampaignRun.objects.get(campaign=c)
    run_fan_out(run_id=run.pk)
    run.refresh_from_db()
    return run


def contacts(tenant, names) -> None:
    Contact.objects.bulk_create([
        Contact(tenant=tenant, first_name=name, email=f"r{n}@example.com", city="Pune & Co" if n % 2 else "Delhi",
                attributes={"plan": "gold"} if n % 3 else {}, consent_email=IN)
        for n, name in enumerate(names)])


def assert_same_email(builder: MessageBuilder, delivery, *, expect_batched: bool | None = None) -> bool:
    full = builder.build(delivery)
    sendable = builder.build_sendable(delivery, substitutions=True)
    subs = sendable.options.get("substitutions")
    if expect_batched is not None:
        assert bool(subs) == expect_batched, delivery.contact.first_name
    for part in ("subject", "html", "text"):
        assert expand(getattr(sendable, part), subs or {}) == getattr(full, part), (part, delivery.contact.first_name)
    assert sendable.headers == full.headers and sendable.to == full.to and sendable.id == full.id
    return bool(subs)


@pytest.mark.parametrize("text", ["", "Hi {{ first_name }}, shop at https://shop.example.com/sale today."])
def test_each_recipient_gets_exactly_the_email_rendered_for_them_alone(tenant_a, text):
    with tenant_scope(tenant_a):
        contacts(tenant_a, AWKWARD_NAMES)
        c = make_campaign(tenant_a, text=text)
        config = ChannelConfig(tenant=tenant_a, name="mail", channel="email", provider="sandbox", settings={},
                               rate_per_second=1000, is_default=True)
        config.set_secrets({})
        config.save()
        run = launch(c)
        builder = MessageBuilder(run.campaign, "email")
        batched = {d.contact.first_name: assert_same_email(builder, d)
                   for d in run.deliveries.select_related("contact").order_by("id")}
    # Ordinary names share the body; the awkward ones were rendered on their own.
    assert batched["Asha"] and batched["O'Brien & Sons"] and batched["<b>Bold</b>"] and batched["Mary Ann"]
    assert not batched["  padded "] and not batched["tab\there"] and not batched["new\nline"]
    assert not batched[""] and not batched["visit http://evil.example"]


def test_content_a_tag_cannot_stand_for_is_rendered_one_by_one(tenant_a):
    with tenant_scope(tenant_a):
        for html in ('<a href="https://shop.example.com/?u={{ email }}">mine</a>',  # the tracked URL varies
                     "<p>&amp{{ first_name }}</p>"):  # an entity would run into the value
            c = Campaign.objects.create(tenant=tenant_a, name="x", channels=["email"], track_links=True)
            CampaignContent.objects.create(tenant=tenant_a, campaign=c, channel="email",
                                           data={"subject": "Hi", "html": html})
            builder = MessageBuilder(c, "email")
            with pytest.raises(NotBatchable):
                EmailShape(campaign=c, typed=builder.typed)
            assert builder._email_shape() is None


def test_a_campaign_goes_out_in_one_sendgrid_request_per_batch_with_one_personalization_each(tenant_a, fakes):
    with tenant_scope(tenant_a):
        contacts(tenant_a, [f"N{n}" for n in range(60)] + ["  padded "])
        config = ChannelConfig(tenant=tenant_a, name="SendGrid", channel="email", provider="sendgrid",
                               settings={"from_email": "offers@acme.example"}, rate_per_second=1000,
                               unit_cost=Decimal("0.001"), is_default=True)
        config.set_secrets({"api_key": "SG.test-key"})
        config.save()
        run = launch(make_campaign(tenant_a))
        while run_dispatch(run_id=run.pk, channel="email", time_budget=30) == "continue":
            pass
        assert run.deliveries.filter(status=DeliveryStatus.SENT).count() == 61
        uuids = {str(u) for u in run.deliveries.values_list("uuid", flat=True)}
    calls = fakes.received("sendgrid", kind="mail")
    assert len(calls) == 2  # 60 share one body; the padded name is rendered (and sent) on its own
    shared = max(calls, key=lambda call: len(call["personalizations"]))
    assert len(shared["personalizations"]) == 60
    ids = {p["custom_args"]["delivery_id"] for call in calls for p in call["personalizations"]}
    assert ids == uuids
    first = shared["personalizations"][0]
    html = next(part["value"] for part in shared["body"]["content"] if part["type"] == "text/html")
    received = expand(html, first["substitutions"])
    assert "Hi N0 from Delhi!" in received and "/r/c/" in received and "/r/o/" in received
    assert expand(first["subject"], first["substitutions"]) == "N0, 20% off in Delhi"
