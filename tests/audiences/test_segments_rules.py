"""What a marketer is told about a bad rule, and who each channel may reach (reachable_q)."""

from __future__ import annotations

import pytest

from audiences.models import (
    CONSENT_CHANNELS,
    Contact,
    PushSubscription,
    Suppression,
    SuppressionKind,
)
from audiences.segments import SegmentRuleError, compile_rules
from audiences.selectors import audience_counts, reachable_q

pytestmark = pytest.mark.django_db

TAG = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(("rules", "message"), [
    ({"match": "some", "rules": []}, "A group matches “all” or “any” of its rules."),
    ({"match": "all", "rules": "city"}, "A group's rules must be a list."),
    ({"match": "all", "rules": ["city"]}, "Every rule must be an object."),
    ({"rules": [{"field": "shoe_size", "op": "in", "value": ["9"]}]}, "Unknown filter “shoe_size”."),
    ({"rules": [{"field": "", "op": "in", "value": ["9"]}]}, "Choose a filter for every rule."),
    ({"rules": [{"field": "tag", "op": "all", "value": []}]}, "Tag: choose at least one value."),
    ({"rules": [{"field": "city", "op": "prefix", "value": ["Pu"]}]}, "City cannot be filtered with “prefix”."),
    ({"rules": [{"field": "city", "op": "in", "value": []}]}, "City: choose at least one value."),
    ({"rules": [{"field": "city", "op": "in", "value": " , "}]}, "City: choose at least one value."),
    ({"rules": [{"field": "city", "op": "in", "value": 5}]}, "City: give a list of values."),
    ({"rules": [{"field": "role", "op": "in", "value": ["boss"]}]}, "Role: unknown role 'boss'."),
    ({"rules": [{"field": "tag", "op": "any", "value": ["not-a-uuid"]}]}, "Tag: unknown item."),
    ({"rules": [{"field": "list", "op": "in", "value": []}]}, "List: choose at least one value."),
    ({"rules": [{"field": "last_active", "op": "within_days", "value": "a week"}]},
     "Last active: give a whole number of days."),
    ({"rules": [{"field": "last_active", "op": "within_days", "value": -1}]},
     "Last active: days must be between 0 and 36500."),
    ({"rules": [{"field": "created", "op": "after", "value": "15/06/2026"}]}, "Created: give a date as YYYY-MM-DD."),
    ({"rules": [{"field": "consent", "op": "is", "value": "opted_in"}]}, "Consent: choose a channel."),
    ({"rules": [{"field": "consent", "op": "is", "channel": "fax", "value": "opted_in"}]}, "Consent: choose a channel."),
    ({"rules": [{"field": "consent", "op": "is", "channel": "sms", "value": "maybe"}]},
     "Consent: choose opted in, opted out or unknown."),
    ({"rules": [{"field": "attribute", "op": "exists", "key": "plan; drop"}]},
     "Custom attribute: name it with letters, digits and underscores."),
    ({"rules": [{"field": "attribute", "op": "equals", "key": "plan", "value": ""}]},
     "Custom attribute: give a value to compare with."),
    ({"rules": [{"field": "attribute", "op": "gt", "key": "ltv", "value": "lots"}]},
     "Custom attribute: numeric comparisons need a number."),
    ({"rules": [{"field": "attribute", "op": "gt", "key": "ltv", "value": "Infinity"}]},
     "Custom attribute: numeric comparisons need a number."),
    ({"rules": [{"field": "has", "op": "yes", "value": "fax"}]},
     "Has: choose email, phone, push subscription or Telegram."),
    ({"rules": [{"rules": [{"rules": [{"rules": [{"rules": [{"rules": [{"rules": []}]}]}]}]}]}]},
     "Groups can be nested at most 5 deep."),
])
def test_bad_rules_raise_a_message_a_marketer_can_act_on(rules, message):
    with pytest.raises(SegmentRuleError) as excinfo:
        compile_rules(rules)
    assert str(excinfo.value) == message


def test_empty_rules_mean_everyone_and_empty_nested_groups_constrain_nothing(in_tenant_a):
    a = Contact.objects.create(tenant=in_tenant_a, city="Pune")
    b = Contact.objects.create(tenant=in_tenant_a, city="Delhi")

    def matching(rules):
        return set(Contact.objects.filter(compile_rules(rules)))

    assert matching(None) == matching({}) == matching({"match": "any", "rules": []}) == {a, b}
    only_pune = {"match": "any", "rules": [{"match": "all", "rules": []},
                                           {"field": "city", "op": "in", "value": ["pune"]}]}
    assert matching(only_pune) == {a}


def test_numeric_attribute_rules_compare_numbers_and_nothing_else(in_tenant_a):
    """What "lifetime value at least 4000" means for every kind of value an attribute can hold."""
    values = {"number": 4500, "float": 4000.5, "big_float": 1e20, "huge_int": 10**40, "low": 3999,
              "negative": -5, "text": "4200", "word": "lots", "list": [5000], "flag": True,
              "object": {"value": 5000}, "null": None}
    contacts = {label: Contact.objects.create(tenant=in_tenant_a, attributes={"ltv": value})
                for label, value in values.items()}
    Contact.objects.create(tenant=in_tenant_a, attributes={"plan": "pro"})  # no ltv at all

    def matching(op, value):
        rules = {"rules": [{"field": "attribute", "op": op, "key": "ltv", "value": value}]}
        found = set(Contact.objects.filter(compile_rules(rules)))
        return {label for label, contact in contacts.items() if contact in found}

    # Text is text, even when it looks like a number: the form and the import store numbers as numbers.
    assert matching("gte", 4000) == {"number", "float", "big_float", "huge_int"}
    assert matching("gt", "4000.5") == {"number", "big_float", "huge_int"}
    assert matching("lt", 4000) == {"low", "negative"}
    assert matching("lte", -5.5) == set()


# --- reachable_q ---------------------------------------------------------------------------------


def _reachable(contact: Contact, channel: str) -> bool:
    return Contact.objects.filter(pk=contact.pk).filter(reachable_q(channel)).exists()


def test_email_is_reachable_until_the_address_is_suppressed(in_tenant_a):
    contact = Contact.objects.create(tenant=in_tenant_a, email="asha@example.com")
    assert _reachable(contact, "email")  # unknown consent is enough for email
    Suppression.objects.create(tenant=in_tenant_a, kind=SuppressionKind.EMAIL, value="asha@example.com")
    assert not _reachable(contact, "email")


def test_a_suppressed_phone_blocks_sms_whatsapp_and_voice(in_tenant_a):
    contact = Contact.objects.create(tenant=in_tenant_a, phone="+919800000001", consent_sms="opted_in",
                                     consent_whatsapp="opted_in", consent_voice="opted_in")
    assert all(_reachable(contact, ch) for ch in ("sms", "whatsapp", "voice"))
    Suppression.objects.create(tenant=in_tenant_a, kind=SuppressionKind.PHONE, value="+919800000001")
    assert not any(_reachable(contact, ch) for ch in ("sms", "whatsapp", "voice"))


def test_another_tenants_suppression_does_not_block(in_tenant_a, tenant_b):
    contact = Contact.objects.create(tenant=in_tenant_a, email="asha@example.com")
    Suppression.objects.create(tenant=tenant_b, kind=SuppressionKind.EMAIL, value="asha@example.com")
    assert _reachable(contact, "email")


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "voice"])
def test_phone_channels_need_an_explicit_opt_in(in_tenant_a, channel):
    contact = Contact.objects.create(tenant=in_tenant_a, phone="+919800000002")
    assert not _reachable(contact, channel)
    Contact.objects.filter(pk=contact.pk).update(**{f"consent_{channel}": "opted_in"})
    assert _reachable(contact, channel)


def test_push_needs_a_subscription_and_no_opt_out(in_tenant_a):
    contact = Contact.objects.create(tenant=in_tenant_a, email="asha@example.com")
    assert not _reachable(contact, "push")
    PushSubscription.objects.create(tenant=in_tenant_a, contact=contact, endpoint="https://push.example/1",
                                    p256dh="k", auth="a")
    assert _reachable(contact, "push")


def test_no_address_means_unreachable_whatever_the_consent(in_tenant_a):
    contact = Contact.objects.create(tenant=in_tenant_a, **{f"consent_{ch}": "opted_in" for ch in CONSENT_CHANNELS})
    assert not any(_reachable(contact, ch) for ch in CONSENT_CHANNELS)


def test_opted_out_is_never_reachable_even_with_every_address(in_tenant_a):
    contact = Contact.objects.create(tenant=in_tenant_a, email="asha@example.com", phone="+919800000003",
                                     telegram_chat_id="700001",
                                     **{f"consent_{ch}": "opted_out" for ch in CONSENT_CHANNELS})
    PushSubscription.objects.create(tenant=in_tenant_a, contact=contact, endpoint="https://push.example/2",
                                    p256dh="k", auth="a")
    assert not any(_reachable(contact, ch) for ch in CONSENT_CHANNELS)
    counts = audience_counts(Contact.objects.filter(tenant=in_tenant_a))
    assert counts == {"total": 1, **{ch: 0 for ch in CONSENT_CHANNELS}}


def test_an_audience_that_matches_nobody_counts_zero_everywhere(in_tenant_a):
    from audiences.models import Contact
    from audiences.selectors import PREVIEW_CHANNELS, audience_counts

    counts = audience_counts(Contact.objects.none())
    assert counts == dict.fromkeys(["total", *PREVIEW_CHANNELS], 0)
