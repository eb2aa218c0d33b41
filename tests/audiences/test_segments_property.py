"""The segment compiler against a plain-Python reading of the same rules (hypothesis).

Each example builds a small population of contacts (with tags, lists, push subscriptions,
consent, attributes of every shape and dates around "now") inside a savepoint, then checks that
Contact.objects.filter(compile_rules(rules)) returns exactly the contacts `evaluate` accepts, for
several random rule trees. The evaluator is written from the grammar in audiences/segments.py,
not from the compiler, so a disagreement is a bug in one of the two.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.models import (
    CONSENT_CHANNELS,
    REACH_BITS,
    Contact,
    ContactList,
    PushSubscription,
    Suppression,
    Tag,
)
from audiences.segments import FIELD_OPS, compile_rules
from audiences.selectors import audience_counts, reachable_q, unreachable_reason

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 30, tzinfo=dt.UTC)
TAG_IDS = [uuid.UUID(int=1000 + n) for n in range(3)]
LIST_IDS = [uuid.UUID(int=2000 + n) for n in range(2)]
UNKNOWN_ID = uuid.UUID(int=9999)
ATTR_KEYS = ["plan", "ltv"]
STATES = ["opted_in", "opted_out", "unknown"]
CONTACT_CITIES = ["Pune", "pune", "MUMBAI", "Mumbai ", "Delhi", "", "Bengaluru"]
RULE_CITIES = ["Pune", "PUNE", "mumbai", " Mumbai ", "Delhi", "Chennai", "Pu%", "Mum_ai"]
PINCODES = ["411001", "411038", "560001", "400001", "4110", ""]
PIN_VALUES = ["411001", "560001", "400001", "41", "4110", "5", "001", "4%", "411_01"]
TEXTS = ["pro", "Pro", "PRO plan", "free", "abc%", "x_y", "", " 12 ", "12", "3.50", "-7", "1e3", "12abc",
         "0.25", "-0.5", "true"]

# --- strategies -----------------------------------------------------------------------------

# Dates land on the boundaries the rules draw often: exactly N days before NOW, and midnights.
dates = st.one_of(
    st.integers(min_value=-400 * 24 * 60, max_value=0).map(lambda m: NOW + dt.timedelta(minutes=m)),
    st.integers(min_value=0, max_value=40).map(lambda d: NOW - dt.timedelta(days=d)),
    st.integers(min_value=0, max_value=40).map(
        lambda d: dt.datetime.combine(NOW.date() - dt.timedelta(days=d), dt.time.min, tzinfo=dt.UTC)),
)
# Small pools so that an attribute often equals the number it is compared with (gt vs gte).
quarters = st.integers(min_value=-4, max_value=8).map(lambda n: n / 4)
attr_values = st.one_of(st.integers(-1, 3), quarters, st.sampled_from(TEXTS), st.booleans(), st.none())

contacts_st = st.fixed_dictionaries({
    "role": st.sampled_from(["customer", "partner"]),
    "city": st.sampled_from(CONTACT_CITIES),
    "pincode": st.sampled_from(PINCODES),
    "tags": st.sets(st.sampled_from(TAG_IDS)),
    "lists": st.sets(st.sampled_from(LIST_IDS)),
    "last_active_at": st.one_of(st.none(), dates),
    "created_at": dates,
    "consent": st.fixed_dictionaries({c: st.sampled_from(STATES) for c in CONSENT_CHANNELS}),
    "attributes": st.dictionaries(st.sampled_from(ATTR_KEYS), attr_values, max_size=3),
    "email": st.booleans(),
    "phone": st.booleans(),
    "telegram": st.booleans(),
    "push": st.integers(min_value=0, max_value=2),  # browsers subscribed
    "suppressed": st.sampled_from(["", "email", "phone", "both"]),
})


def _values(pool):
    """A non-empty choice from pool, sometimes written as one comma-separated string."""
    return st.tuples(st.lists(st.sampled_from(pool), min_size=1, max_size=3), st.booleans()).map(
        lambda t: ",".join(t[0]) if t[1] else t[0])


def _ids(pool):
    return st.lists(st.sampled_from([str(i) for i in [*pool, UNKNOWN_ID]]), min_size=1, max_size=3)


days = st.one_of(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=450))
numbers = st.one_of(st.integers(-1, 3), quarters, st.sampled_from(["12", " 3.5", "-7", "0", "0.25"]))
RULE_KINDS = [
    st.fixed_dictionaries({"field": st.just("role"), "op": st.just("in"),
                           "value": st.lists(st.sampled_from(["customer", "partner"]), min_size=1)}),
    st.fixed_dictionaries({"field": st.just("city"), "op": st.just("in"), "value": _values(RULE_CITIES)}),
    st.fixed_dictionaries({"field": st.just("pincode"), "op": st.sampled_from(FIELD_OPS["pincode"]),
                           "value": _values(PIN_VALUES)}),
    st.fixed_dictionaries({"field": st.just("tag"), "op": st.sampled_from(FIELD_OPS["tag"]), "value": _ids(TAG_IDS)}),
    st.fixed_dictionaries({"field": st.just("list"), "op": st.sampled_from(FIELD_OPS["list"]),
                           "value": _ids(LIST_IDS)}),
    st.fixed_dictionaries({"field": st.just("last_active"), "op": st.sampled_from(FIELD_OPS["last_active"]),
                           "value": st.one_of(days, days.map(str))}),
    st.fixed_dictionaries({"field": st.just("created"), "op": st.just("within_days"), "value": days}),
    st.fixed_dictionaries({"field": st.just("created"), "op": st.sampled_from(["after", "before"]),
                           "value": dates.map(lambda d: d.date().isoformat())}),

    st.fixed_dictionaries({"field": st.just("consent"), "op": st.sampled_from(FIELD_OPS["consent"]),
                           "channel": st.sampled_from(CONSENT_CHANNELS), "value": st.sampled_from(STATES)}),
    st.fixed_dictionaries({"field": st.just("attribute"), "op": st.sampled_from(["equals", "contains"]),
                           "key": st.sampled_from([*ATTR_KEYS, "missing"]),
                           "value": st.one_of(st.sampled_from([t for t in TEXTS if t]), st.integers(-3, 12))}),
    st.fixed_dictionaries({"field": st.just("attribute"), "op": st.sampled_from(["gt", "gte", "lt", "lte"]),
                           "key": st.sampled_from([*ATTR_KEYS, "missing"]), "value": numbers}),
    st.fixed_dictionaries({"field": st.just("attribute"), "op": st.just("exists"),
                           "key": st.sampled_from([*ATTR_KEYS, "missing"])}),
    st.fixed_dictionaries({"field": st.just("has"), "op": st.sampled_from(FIELD_OPS["has"]),
                           "value": st.sampled_from(["email", "phone", "push", "telegram"])}),
]
# Uniform over kinds: st.one_of favours its first branches, which starves the last filters.
rule_st = st.sampled_from(RULE_KINDS).flatmap(lambda kind: kind)
tree_st = st.recursive(
    rule_st,
    lambda children: st.fixed_dictionaries({"match": st.sampled_from(["all", "any"]),
                                            "rules": st.lists(children, max_size=4)}),
    max_leaves=8,
)
root_st = st.fixed_dictionaries({"match": st.sampled_from(["all", "any"]), "rules": st.lists(tree_st, max_size=4)})

# --- the plain-Python evaluator ---------------------------------------------------------------


def _items(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


def _json_text(value) -> str | None:
    """What PostgreSQL's ->> gives for a JSON value: strings as they are, the rest as JSON text."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _midnight(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min))


def evaluate_rule(rule: dict, c: dict) -> bool:
    field, op, value = rule["field"], rule["op"], rule.get("value")
    if field == "role":
        return c["role"] in value
    if field == "city":
        return any(c["city"].upper() == v.upper() for v in _items(value))
    if field == "pincode":
        codes = _items(value)
        return c["pincode"] in codes if op == "in" else any(c["pincode"].startswith(p) for p in codes)
    if field == "tag":
        wanted = {uuid.UUID(v) for v in value}
        return {"any": bool(wanted & c["tags"]), "all": wanted <= c["tags"], "none": not wanted & c["tags"]}[op]
    if field == "list":
        member = bool({uuid.UUID(v) for v in value} & c["lists"])
        return member if op == "in" else not member
    if field == "last_active":
        since = NOW - dt.timedelta(days=int(value))
        within = c["last_active_at"] is not None and c["last_active_at"] >= since
        return within if op == "within_days" else not within
    if field == "created":
        if op == "within_days":
            return c["created_at"] >= NOW - dt.timedelta(days=int(value))
        return (c["created_at"] >= _midnight(value)) if op == "after" else (c["created_at"] < _midnight(value))
    if field == "consent":
        same = c["consent"][rule["channel"]] == value
        return same if op == "is" else not same
    if field == "attribute":
        attrs, key = c["attributes"], rule["key"]
        if op == "exists":
            return key in attrs
        text = _json_text(attrs.get(key))
        if op == "equals":
            return text is not None and text.upper() == str(value).upper()
        if op == "contains":
            return text is not None and str(value).upper() in text.upper()
        number = attrs.get(key)
        if not isinstance(number, int | float) or isinstance(number, bool):  # text is never a number
            return False
        limit = float(str(value))
        return {"gt": number > limit, "gte": number >= limit, "lt": number < limit, "lte": number <= limit}[op]
    if field == "has":
        return bool(c[value]) if op == "yes" else not c[value]
    raise AssertionError(field)


def evaluate(node: dict, c: dict) -> bool | None:
    """True/False, or None for a group with no conditions (it constrains nothing)."""
    if "rules" not in node:
        return evaluate_rule(node, c)
    results = [r for r in (evaluate(child, c) for child in node["rules"]) if r is not None]
    if not results:
        return None
    return all(results) if node.get("match", "all") == "all" else any(results)


# --- the property -----------------------------------------------------------------------------


def _create_population(tenant, people: list[dict]) -> list[uuid.UUID]:
    Tag.objects.bulk_create([Tag(tenant=tenant, id=tag_id, name=f"tag{n}") for n, tag_id in enumerate(TAG_IDS)])
    ContactList.objects.bulk_create([ContactList(tenant=tenant, id=list_id, name=f"list{n}")
                                     for n, list_id in enumerate(LIST_IDS)])
    contacts = [Contact(
        tenant=tenant, first_name=f"P{n}", role=p["role"], city=p["city"], pincode=p["pincode"],
        attributes=p["attributes"], last_active_at=p["last_active_at"],
        email=f"p{n}@example.com" if p["email"] else "", phone=f"+1415555{n:04d}" if p["phone"] else "",
        telegram_chat_id=str(700 + n) if p["telegram"] else "",
        **{f"consent_{ch}": state for ch, state in p["consent"].items()},
    ) for n, p in enumerate(people)]
    Contact.objects.bulk_create(contacts)
    # auto_now_add ignores a given value; set the generated creation times afterwards.
    for contact, p in zip(contacts, people, strict=True):
        contact.created_at = p["created_at"]
    Contact.objects.bulk_update(contacts, ["created_at"])
    Contact.tags.through.objects.bulk_create([Contact.tags.through(contact_id=c.pk, tag_id=t)
                                              for c, p in zip(contacts, people, strict=True) for t in p["tags"]])
    ContactList.contacts.through.objects.bulk_create([
        ContactList.contacts.through(contact_id=c.pk, contactlist_id=lst)
        for c, p in zip(contacts, people, strict=True) for lst in p["lists"]])
    PushSubscription.objects.bulk_create([
        PushSubscription(tenant=tenant, contact=c, endpoint=f"https://push.example/{n}/{k}", p256dh="k", auth="a")
        for n, (c, p) in enumerate(zip(contacts, people, strict=True)) for k in range(p["push"])])
    Suppression.objects.bulk_create(
        [Suppression(tenant=tenant, kind="email", value=c.email)
         for c, p in zip(contacts, people, strict=True) if c.email and p["suppressed"] in ("email", "both")]
        + [Suppression(tenant=tenant, kind="phone", value=c.phone)
           for c, p in zip(contacts, people, strict=True) if c.phone and p["suppressed"] in ("phone", "both")])
    return [c.pk for c in contacts]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(people=st.lists(contacts_st, min_size=3, max_size=10),
       # One rule of every kind checks each filter's own meaning; trees check how groups combine them.
       single=st.tuples(*RULE_KINDS), trees=st.lists(root_st, min_size=1, max_size=3))
def test_compiled_rules_select_exactly_what_the_rules_say(in_tenant_a, people, single, trees):
    with transaction.atomic():
        ids = _create_population(in_tenant_a, people)
        for rules in [{"match": "all", "rules": [rule]} for rule in single] + trees:
            got = set(Contact.objects.filter(tenant=in_tenant_a).filter(compile_rules(rules, now=NOW))
                      .values_list("pk", flat=True))
            expected = {pk for pk, person in zip(ids, people, strict=True) if evaluate(rules, person) is not False}
            assert got == expected, rules
        # The preview's counts (the stored reach and suppressed masks, kept by triggers) agree
        # with reachable_q, the definition the fan-out uses, for a segment and for everyone.
        everyone = Contact.objects.filter(tenant=in_tenant_a)
        for audience in (everyone.filter(compile_rules(trees[0], now=NOW)), everyone):
            assert audience_counts(audience) == {
                "total": audience.count(),
                **{channel: audience.filter(reachable_q(channel)).count() for channel in CONSENT_CHANNELS}}
        # Contact by contact: a channel's reach bit is set exactly when reachable_q holds, leaving
        # aside the two conditions that live in other tables (suppression, push subscription).
        for channel, bit in REACH_BITS.items():
            with_bit = set(everyone.annotate(b=F("reach").bitand(bit)).filter(b__gt=0).values_list("pk", flat=True))
            reachable = set(everyone.filter(reachable_q(channel)).values_list("pk", flat=True))
            assert reachable <= with_bit, channel
            for pk in with_bit - reachable:
                contact = Contact.objects.get(pk=pk)
                assert unreachable_reason(contact, channel) in ("suppressed", "no push subscription"), channel
        transaction.set_rollback(True)
