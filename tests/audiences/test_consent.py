"""Consent: changes from the contact page, enforcement on every targeting path, and what channels report."""

from __future__ import annotations

import pytest

from audiences.models import (
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactList,
    Segment,
    Suppression,
    Tag,
)
from audiences.selectors import audience_queryset, reachable_q, segment_contacts
from channels.signals import keyword_received, recipient_suppressed

pytestmark = pytest.mark.django_db


def detail(tenant, contact) -> str:
    return f"/t/{tenant.slug}/audiences/contacts/{contact.pk}/"


@pytest.fixture
def asha(in_tenant_a):
    return Contact.objects.create(tenant=in_tenant_a, first_name="Asha", email="asha@example.com",
                                  phone="+919810012345", consent_sms=ConsentState.OPTED_IN)


def test_a_marketer_changes_consent_and_the_history_records_who_and_why(marketer_client, marketer, tenant_a, asha):
    response = marketer_client.post(detail(tenant_a, asha) + "consent/",
                                    {"channel": "sms", "state": "opted_out", "note": "Asked on the phone"})
    assert response.status_code == 302
    asha.refresh_from_db()
    assert asha.consent_sms == ConsentState.OPTED_OUT
    event = ConsentEvent.objects.get()
    assert (event.channel, event.previous_state, event.state, event.source, event.actor) == (
        "sms", "opted_in", "opted_out", ConsentSource.ADMIN, marketer)
    assert event.evidence["note"] == "Asked on the phone"
    page = marketer_client.get(detail(tenant_a, asha)).content.decode()
    assert "Opted in → <strong>Opted out</strong>" in page and "Asked on the phone" in page
    assert "by marketer" in page


def test_setting_the_same_state_again_records_nothing(marketer_client, tenant_a, asha):
    marketer_client.post(detail(tenant_a, asha) + "consent/", {"channel": "sms", "state": "opted_in"})
    assert not ConsentEvent.objects.exists()


def test_an_unknown_channel_or_state_is_refused(marketer_client, tenant_a, asha):
    response = marketer_client.post(detail(tenant_a, asha) + "consent/", {"channel": "fax", "state": "opted_in"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not ConsentEvent.objects.exists()


def test_the_detail_page_shows_state_badges_and_the_unsubscribe_link(owner_client, tenant_a, asha):
    Contact.objects.filter(pk=asha.pk).update(consent_email=ConsentState.OPTED_OUT)
    page = owner_client.get(detail(tenant_a, asha)).content.decode()
    assert '<span class="badge badge-green">Opted in</span>' in page   # SMS
    assert '<span class="badge badge-red">Opted out</span>' in page    # email
    assert '<span class="badge badge-gray">Unknown</span>' in page     # the rest
    assert 'id="unsubscribe-url"' in page and "/p/u/" in page


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_opted_out_contact_is_unreachable_whichever_way_it_was_chosen(tenant_a, asha, channel):
    tag = Tag.objects.create(tenant=tenant_a, name="vip")
    contact_list = ContactList.objects.create(tenant=tenant_a, name="Testers")
    asha.tags.add(tag)
    contact_list.contacts.add(asha)
    segment = Segment.objects.create(tenant=tenant_a, name="Pune", rules={"match": "all", "rules": [
        {"field": "tag", "op": "any", "value": [str(tag.pk)]}]})
    paths = {
        "segment": segment_contacts(segment),
        "list": audience_queryset(tenant_id=tenant_a.pk, lists=[contact_list]),
        "tag": audience_queryset(tenant_id=tenant_a.pk, tags=[tag]),
        "everyone": audience_queryset(tenant_id=tenant_a.pk, everyone=True),
    }
    assert all(qs.filter(reachable_q(channel)).exists() for qs in paths.values())
    Contact.objects.filter(pk=asha.pk).update(**{f"consent_{channel}": ConsentState.OPTED_OUT})
    for name, qs in paths.items():
        assert qs.filter(pk=asha.pk).exists(), name  # still in the audience...
        assert not qs.filter(reachable_q(channel)).exists(), name  # ...but never messaged


def test_an_inbound_stop_then_start_changes_consent_and_appends_history(tenant_a, asha):
    keyword_received.send(sender="test", tenant_id=tenant_a.pk, channel="sms", address="+919810012345",
                          keyword="stop", evidence={"provider": "twilio_sms", "message_id": "SM1"})
    asha.refresh_from_db()
    assert asha.consent_sms == ConsentState.OPTED_OUT
    assert not Contact.objects.filter(pk=asha.pk).filter(reachable_q("sms")).exists()
    keyword_received.send(sender="test", tenant_id=tenant_a.pk, channel="sms", address="+919810012345",
                          keyword="START", evidence={"provider": "twilio_sms", "message_id": "SM2"})
    asha.refresh_from_db()
    assert asha.consent_sms == ConsentState.OPTED_IN
    events = list(ConsentEvent.objects.order_by("created_at", "id").values_list("state", "source", "evidence"))
    assert events == [
        ("opted_out", "keyword", {"provider": "twilio_sms", "message_id": "SM1", "keyword": "STOP"}),
        ("opted_in", "keyword", {"provider": "twilio_sms", "message_id": "SM2", "keyword": "START"}),
    ]


def test_a_keyword_for_another_tenant_leaves_this_one_alone(tenant_a, tenant_b, asha):
    keyword_received.send(sender="test", tenant_id=tenant_b.pk, channel="sms", address="+919810012345",
                          keyword="STOP", evidence={})
    asha.refresh_from_db()
    assert asha.consent_sms == ConsentState.OPTED_IN and not ConsentEvent.objects.exists()


def test_a_provider_suppression_adds_the_address_and_blocks_it(tenant_a, asha):
    recipient_suppressed.send(sender="test", tenant_id=tenant_a.pk, channel="whatsapp", address="+919810012345",
                              reason="Twilio 21610")
    suppression = Suppression.objects.get()
    assert (suppression.kind, suppression.value, suppression.source, suppression.reason) == (
        "phone", "+919810012345", ConsentSource.PROVIDER, "Twilio 21610")
    assert not Contact.objects.filter(reachable_q("sms")).exists()  # consent is opted in, the number is blocked
