"""Contact.reach (the preview's per-channel bit mask) follows every write that changes reachability.

The mask is a stored generated column over the contact's own columns; has_push, its push
address, is kept by database triggers on push subscriptions. Each step below changes something
through an ordinary code path and checks the mask against reachable_q, the definition."""

from __future__ import annotations

import pytest

from audiences import services
from audiences.models import CONSENT_CHANNELS, REACH_BITS, Contact, PushSubscription, Suppression
from audiences.selectors import audience_counts, reachable_q

pytestmark = pytest.mark.django_db


def mask(contact: Contact) -> set[str]:
    reach = Contact.objects.values_list("reach", flat=True).get(pk=contact.pk)
    return {channel for channel, bit in REACH_BITS.items() if reach & bit}


def reachable(contact: Contact) -> set[str]:
    return {channel for channel in CONSENT_CHANNELS
            if Contact.objects.filter(pk=contact.pk).filter(reachable_q(channel)).exists()}


def test_the_mask_follows_consent_addresses_and_push_subscriptions(in_tenant_a):
    tenant = in_tenant_a
    asha = Contact.objects.create(tenant=tenant, email="asha@example.com")
    assert mask(asha) == reachable(asha) == {"email"}

    services.consent_set(contact=asha, channel="sms", state="opted_in", source="admin")
    asha.refresh_from_db()
    assert mask(asha) == reachable(asha) == {"email"}  # opted in, but no phone yet
    asha.phone = "+919812345678"
    asha.save()
    assert mask(asha) == reachable(asha) == {"email", "sms"}

    sub, _ = PushSubscription.objects.update_or_create(
        tenant=tenant, endpoint="https://push.example/1", defaults={"contact": asha, "p256dh": "k", "auth": "a"})
    assert mask(asha) == reachable(asha) == {"email", "sms", "push"}
    # A save of a contact read before the subscription existed does not take it away again.
    stale = Contact.objects.get(pk=asha.pk)
    stale.has_push = False
    stale.first_name = "Asha"
    stale.save()
    assert mask(asha) == {"email", "sms", "push"}

    ravi = Contact.objects.create(tenant=tenant, email="ravi@example.com")
    second = PushSubscription.objects.create(tenant=tenant, contact=asha, endpoint="https://push.example/2",
                                             p256dh="k", auth="a")
    sub.contact = ravi  # the browser now belongs to Ravi
    sub.save()
    assert mask(asha) == reachable(asha) == {"email", "sms", "push"}  # Asha still has her second one
    assert "push" in mask(ravi) and mask(ravi) == reachable(ravi)
    second.delete()
    assert mask(asha) == reachable(asha) == {"email", "sms"}
    PushSubscription.objects.filter(contact=ravi).delete()
    assert mask(ravi) == reachable(ravi) == {"email"}

    services.consent_set(contact=asha, channel="email", state="opted_out", source="unsubscribe")
    assert mask(asha) == reachable(asha) == {"sms"}


def test_suppressed_addresses_are_left_out_of_the_counts_though_the_mask_has_them(in_tenant_a):
    tenant = in_tenant_a
    Contact.objects.create(tenant=tenant, email="a@example.com", phone="+919812345671", consent_sms="opted_in",
                           consent_whatsapp="opted_in")
    Contact.objects.create(tenant=tenant, email="b@example.com", phone="+919812345672", consent_sms="opted_in")
    Suppression.objects.create(tenant=tenant, kind="email", value="a@example.com")
    Suppression.objects.create(tenant=tenant, kind="phone", value="+919812345672")
    everyone = Contact.objects.filter(tenant=tenant)
    assert audience_counts(everyone) == {"total": 2, "email": 1, "push": 0, "sms": 1, "whatsapp": 1, "telegram": 0,
                                         "voice": 0}
    assert audience_counts(everyone) == {"total": 2, **{c: everyone.filter(reachable_q(c)).count()
                                                        for c in CONSENT_CHANNELS}}


def suppressed_channels(contact: Contact) -> set[str]:
    suppressed = Contact.objects.values_list("suppressed", flat=True).get(pk=contact.pk)
    return {channel for channel, bit in REACH_BITS.items() if suppressed & bit}


def counted(contact: Contact) -> set[str]:
    """The channels the preview counts this contact in."""
    counts = audience_counts(Contact.objects.filter(pk=contact.pk))
    return {channel for channel in CONSENT_CHANNELS if counts[channel]}


def test_the_suppressed_mask_follows_the_suppression_list_and_address_changes(in_tenant_a, tenant_b):
    tenant = in_tenant_a
    asha = Contact.objects.create(tenant=tenant, email="asha@example.com", phone="+919812345671",
                                  consent_sms="opted_in", consent_whatsapp="opted_in")
    assert counted(asha) == reachable(asha) == {"email", "sms", "whatsapp"}

    # A suppression of another workspace changes nothing here.
    Suppression.objects.create(tenant=tenant_b, kind="email", value="asha@example.com")
    assert suppressed_channels(asha) == set()

    email = Suppression.objects.create(tenant=tenant, kind="email", value="asha@example.com")
    assert suppressed_channels(asha) == {"email"}
    assert counted(asha) == reachable(asha) == {"sms", "whatsapp"}
    stale = Contact.objects.get(pk=asha.pk)
    phone = Suppression.objects.create(tenant=tenant, kind="phone", value="+919812345671")
    assert counted(asha) == reachable(asha) == set()
    # A contact saved from a copy read before the phone suppression does not write the old flags back.
    stale.first_name = "Asha"
    stale.save()
    assert counted(asha) == reachable(asha) == set()

    # A new address is checked against the list; so is a new contact with a suppressed address.
    asha.email = "asha.new@example.com"
    asha.save()
    assert counted(asha) == reachable(asha) == {"email"}
    ravi = Contact.objects.create(tenant=tenant, email="asha@example.com")
    assert counted(ravi) == reachable(ravi) == set()

    email.delete()
    phone.delete()
    assert counted(ravi) == reachable(ravi) == {"email"}
    assert counted(asha) == reachable(asha) == {"email", "sms", "whatsapp"}
