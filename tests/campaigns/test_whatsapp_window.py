"""WhatsApp's 24-hour window, end to end: inbound webhooks (Meta and Twilio) stamp the contact,
the review counts who a session message can't reach (and who has no time zone), the fan-out
skips them with that reason, and the session message goes out through the real Meta adapter to
the fake Cloud API for those inside the window."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from audiences.models import ConsentState, Contact
from campaigns import preflight, services
from campaigns.engine.dispatch import run_dispatch
from campaigns.engine.fanout import run_fan_out
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    DeliveryStatus,
    MessageTemplate,
    TemplateStatus,
)
from channels.models import ChannelConfig
from tenants.scoping import tenant_scope

IN = ConsentState.OPTED_IN
APP_SECRET = "meta-app-secret-window-0001"
TWILIO_TOKEN = "auth-token-window-0000000000001"


def meta_config(tenant, **kw) -> ChannelConfig:
    with tenant_scope(tenant):
        config = ChannelConfig(tenant=tenant, name="WhatsApp (Meta)", channel="whatsapp", provider="meta_whatsapp",
                               settings={"phone_number_id": "1055"}, rate_per_second=100,
                               unit_cost=Decimal("0.01"), is_default=True, **kw)
        config.set_secrets({"access_token": "EAAG-token", "app_secret": APP_SECRET, "verify_token": "vt"})
        config.save()
        return config


def meta_inbound(client, config, sender: str, when: int, text: str = "Is the sale still on?"):
    value = {"messaging_product": "whatsapp", "messages": [
        {"from": sender, "id": f"wamid.in{when}", "timestamp": str(when), "type": "text", "text": {"body": text}}]}
    body = json.dumps({"entry": [{"changes": [{"field": "messages", "value": value}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(config.webhook_path, data=body, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=signature)


def person(tenant, n, **kw) -> Contact:
    fields = {"first_name": f"W{n}", "phone": f"+9198000{n:05d}", "consent_whatsapp": IN}
    fields.update(kw)
    return Contact.objects.create(tenant=tenant, **fields)


def session_campaign(tenant, text="Hi {{ first_name }}, your cart is waiting") -> Campaign:
    campaign = Campaign.objects.create(tenant=tenant, name="Cart reminder", channels=["whatsapp"],
                                       audience_everyone=True)
    CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="whatsapp",
                                   data={"mode": "session", "session_text": text})
    return campaign


# --- the stamp ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_meta_inbound_message_stamps_the_contact_and_a_late_older_one_does_not_move_it_back(client, tenant_a):
    config = meta_config(tenant_a)
    with tenant_scope(tenant_a):
        asha = person(tenant_a, 1)
        other = person(tenant_a, 2)
    assert meta_inbound(client, config, "919800000001", 1_800_000_000).status_code == 200
    asha.refresh_from_db()
    assert asha.whatsapp_last_inbound_at == dt.datetime.fromtimestamp(1_800_000_000, tz=dt.UTC)
    # A retried webhook for an older message arrives late.
    assert meta_inbound(client, config, "919800000001", 1_799_990_000).status_code == 200
    asha.refresh_from_db()
    assert asha.whatsapp_last_inbound_at == dt.datetime.fromtimestamp(1_800_000_000, tz=dt.UTC)
    other.refresh_from_db()
    assert other.whatsapp_last_inbound_at is None


@pytest.mark.django_db
def test_a_twilio_whatsapp_reply_stamps_the_contact_but_an_sms_reply_does_not(client, tenant_a, tenant_b):
    from twilio.request_validator import RequestValidator

    configs = {}
    for channel, provider in (("whatsapp", "twilio_whatsapp"), ("sms", "twilio_sms")):
        with tenant_scope(tenant_a):
            config = ChannelConfig(tenant=tenant_a, name=provider, channel=channel, provider=provider,
                                   settings={"account_sid": "AC" + "0" * 32, "from_number": "+15005550006"},
                                   rate_per_second=10, unit_cost=Decimal("0.01"))
            config.set_secrets({"auth_token": TWILIO_TOKEN})
            config.save()
            configs[channel] = config
    with tenant_scope(tenant_a):
        asha = person(tenant_a, 1)
    with tenant_scope(tenant_b):  # the same number in another workspace is another contact
        stranger = person(tenant_b, 1)

    def post(config, sender):
        params = {"MessageSid": "SM" + "2" * 32, "From": sender, "To": "whatsapp:+15005550006", "Body": "Yes please",
                  "SmsStatus": "received", "AccountSid": "AC" + "0" * 32}
        url = f"http://testserver{config.webhook_path}"
        return client.post(config.webhook_path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                           HTTP_X_TWILIO_SIGNATURE=RequestValidator(TWILIO_TOKEN).compute_signature(url, params))

    assert post(configs["sms"], "+919800000001").status_code == 200
    asha.refresh_from_db()
    assert asha.whatsapp_last_inbound_at is None
    before = timezone.now()
    assert post(configs["whatsapp"], "whatsapp:+919800000001").status_code == 200
    asha.refresh_from_db()
    assert asha.whatsapp_last_inbound_at >= before
    stranger.refresh_from_db()
    assert stranger.whatsapp_last_inbound_at is None


# --- the review -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_review_counts_who_is_outside_the_window_and_who_has_no_time_zone(in_tenant_a):
    t = in_tenant_a
    now = timezone.now()
    meta_config(t)
    person(t, 1, whatsapp_last_inbound_at=now - dt.timedelta(hours=2), timezone="Asia/Kolkata")
    person(t, 2, whatsapp_last_inbound_at=now - dt.timedelta(hours=23))             # no time zone, inside
    person(t, 3, whatsapp_last_inbound_at=now - dt.timedelta(hours=25))             # outside
    person(t, 4)                                                                    # never wrote
    person(t, 5, consent_whatsapp=ConsentState.OPTED_OUT, whatsapp_last_inbound_at=now)  # opted out first
    campaign = session_campaign(t)

    pf = preflight.campaign_preflight(campaign, now=now)
    [wa] = pf.recipients
    assert (wa.recipients, wa.outside_window, wa.opted_out, wa.left_out) == (2, 2, 1, 3)
    assert ("Outside the 24-hour window", 2) in wa.reasons
    assert wa.unknown_timezone == 1 and pf.unknown_timezone == 1
    assert any("haven't written to you in the last 24 hours" in w for w in pf.warnings)
    assert sum(b.counts["whatsapp"] for b in pf.buckets) == 2  # buckets count only who gets it


@pytest.mark.django_db
def test_an_approved_template_reaches_everyone_regardless_of_the_window(in_tenant_a):
    t = in_tenant_a
    meta_config(t)
    person(t, 1)
    person(t, 2, whatsapp_last_inbound_at=timezone.now() - dt.timedelta(days=3))
    template = MessageTemplate.objects.create(tenant=t, name="cart", body="Hi {{1}}, your cart is waiting.",
                                              status=TemplateStatus.APPROVED)
    campaign = Campaign.objects.create(tenant=t, name="Cart", channels=["whatsapp"], audience_everyone=True)
    CampaignContent.objects.create(tenant=t, campaign=campaign, channel="whatsapp",
                                   data={"mode": "template", "template_id": str(template.pk), "variables": ["x"]})
    [wa] = preflight.recipients_by_channel(campaign)
    assert (wa.recipients, wa.outside_window, wa.unknown_timezone) == (2, 0, 2)


@pytest.mark.django_db
def test_the_review_page_shows_the_window_and_time_zone_figures(marketer_client, tenant_a):
    with tenant_scope(tenant_a):
        meta_config(tenant_a)
        person(tenant_a, 1, whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=1))
        person(tenant_a, 2)
        campaign = session_campaign(tenant_a)
    body = marketer_client.get(f"/t/{tenant_a.slug}/campaigns/{campaign.pk}/edit/review/").content.decode()
    assert "Outside the 24-hour window: 1" in body
    assert "Time zone unknown" in body
    assert "no time zone of their own" in body and "Asia/Kolkata" in body


# --- fan-out and sending --------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_session_message_skips_contacts_outside_the_window_and_reaches_the_others_through_meta(tenant_a, fakes):
    from django.core.cache import cache

    cache.clear()
    now = timezone.now()
    with tenant_scope(tenant_a):
        meta_config(tenant_a)
        inside = person(tenant_a, 1, whatsapp_last_inbound_at=now - dt.timedelta(hours=3))
        person(tenant_a, 2, whatsapp_last_inbound_at=now - dt.timedelta(hours=30))
        person(tenant_a, 3)
        campaign = session_campaign(tenant_a)
        services.campaign_launch(campaign=campaign)
        run = CampaignRun.objects.get(campaign=campaign)
        run_fan_out(run_id=run.pk)
        rows = {d.contact.first_name: (d.status, d.skip_reason) for d in run.deliveries.select_related("contact")}
        assert rows == {"W1": (DeliveryStatus.PENDING, ""), "W2": (DeliveryStatus.SKIPPED, "whatsapp_window"),
                        "W3": (DeliveryStatus.SKIPPED, "whatsapp_window")}
        while run_dispatch(run_id=run.pk, channel="whatsapp", time_budget=30) == "continue":
            pass
        delivery = run.deliveries.get(contact=inside)
        assert delivery.status == DeliveryStatus.SENT, delivery.error_message
    [sent] = fakes.received("meta", kind="message")
    assert sent["to"] == "919800000001" and sent["type"] == "text"
    assert sent["body"]["text"]["body"] == "Hi W1, your cart is waiting"
