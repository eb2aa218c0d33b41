"""Demo audience: about 500 contacts per tenant with names, cities, pincodes, roles, tags, lists,
consent (with its history) and a few segments. Idempotent: a tenant that has contacts is left alone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Contact,
    ContactList,
    ContactRole,
    Segment,
    Tag,
)

CONTACTS_PER_TENANT = 500
FIRST_NAMES = {
    "IN": ("Aarav", "Diya", "Vihaan", "Ananya", "Arjun", "Isha", "Kabir", "Meera", "Rohan", "Saanvi", "Aditya",
           "Priya", "Rahul", "Neha", "Vikram", "Kavya", "Siddharth", "Pooja", "Nikhil", "Tara"),
    "US": ("Liam", "Olivia", "Noah", "Emma", "James", "Ava", "Lucas", "Mia", "Ethan", "Sophia", "Mason",
           "Harper", "Logan", "Ella", "Jacob", "Grace", "Owen", "Chloe", "Henry", "Lily"),
}
LAST_NAMES = {
    "IN": ("Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Singh", "Kapoor", "Mehta", "Rao", "Das", "Joshi"),
    "US": ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Clark", "Lewis", "Hall",
           "Young"),
}
TAGS = ("vip", "newsletter", "loyalty", "webinar-2026", "churn-risk", "wholesale")
PHONE_PREFIX = {"IN": ("+9198", 8), "US": ("+1415555", 4)}


def _phone(region: str, n: int) -> str:
    prefix, digits = PHONE_PREFIX[region]
    return f"{prefix}{n:0{digits}d}"


def seed(*, tenant, spec, users, rng) -> None:
    if Contact.objects.filter(tenant=tenant).exists():
        return
    now = timezone.now()
    region = spec.region if spec.region in FIRST_NAMES else "US"
    tags = {name: Tag.objects.create(tenant=tenant, name=name) for name in TAGS}
    contacts, events = [], []
    for n in range(CONTACTS_PER_TENANT):
        first, last = rng.choice(FIRST_NAMES[region]), rng.choice(LAST_NAMES[region])
        city, pin_prefix = rng.choice(spec.cities)
        contact = Contact(
            tenant=tenant, first_name=first, last_name=last,
            email=f"{first}.{last}.{n}@example.com".lower() if rng.random() < 0.92 else "",
            phone=_phone(region, n if region == "US" else 10000000 + n) if rng.random() < 0.85 else "",
            role=ContactRole.PARTNER if rng.random() < 0.15 else ContactRole.CUSTOMER,
            city=city, pincode=f"{pin_prefix}{rng.randint(1, 99):03d}",
            attributes={"plan": rng.choice(["free", "plus", "pro"]), "lifetime_value": rng.randint(0, 5000)},
            last_active_at=now - dt.timedelta(days=rng.randint(0, 120)) if rng.random() < 0.8 else None,
            telegram_chat_id=str(700000000 + n) if rng.random() < 0.2 else "",
        )
        for channel in CONSENT_CHANNELS:
            roll = rng.random()
            state = ConsentState.OPTED_IN if roll < 0.7 else ConsentState.OPTED_OUT if roll < 0.8 else ConsentState.UNKNOWN
            setattr(contact, f"consent_{channel}", state)
            if state != ConsentState.UNKNOWN:
                events.append(ConsentEvent(tenant=tenant, contact=contact, channel=channel, state=state,
                                           previous_state=ConsentState.UNKNOWN, source=ConsentSource.IMPORT,
                                           evidence={"file": "demo-contacts.csv", "row": n + 2}))
        contacts.append(contact)
    Contact.objects.bulk_create(contacts, batch_size=500)
    ConsentEvent.objects.bulk_create(events, batch_size=1000)

    through = Contact.tags.through
    links = []
    for contact in contacts:
        for name in rng.sample(TAGS, k=rng.choice((0, 1, 1, 2))):
            links.append(through(contact_id=contact.pk, tag_id=tags[name].pk))
    through.objects.bulk_create(links, batch_size=1000)

    testers = ContactList.objects.create(tenant=tenant, name="Internal testers",
                                         description="Colleagues who receive every test send.")
    testers.contacts.set(contacts[:5])
    event_list = ContactList.objects.create(tenant=tenant, name="Spring event attendees")
    event_list.contacts.set(rng.sample(contacts, 60))

    owner = users.get("admin")
    first_city = spec.cities[0][0]
    Segment.objects.create(
        tenant=tenant, name=f"Active customers in {first_city}", created_by=owner,
        rules={"match": "all", "rules": [
            {"field": "role", "op": "in", "value": ["customer"]},
            {"field": "city", "op": "in", "value": [first_city]},
            {"field": "last_active", "op": "within_days", "value": 30},
        ]},
    )
    Segment.objects.create(
        tenant=tenant, name="VIP or high value", created_by=owner,
        rules={"match": "any", "rules": [
            {"field": "tag", "op": "any", "value": [str(tags["vip"].pk)]},
            {"field": "attribute", "key": "lifetime_value", "op": "gte", "value": 4000},
        ]},
    )
    Segment.objects.create(
        tenant=tenant, name="Partners reachable by SMS", created_by=owner,
        rules={"match": "all", "rules": [
            {"field": "role", "op": "in", "value": ["partner"]},
            {"field": "consent", "channel": "sms", "op": "is", "value": "opted_in"},
        ]},
    )
