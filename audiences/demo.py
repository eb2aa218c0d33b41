"""Demo audience: about 500 contacts per tenant with names, cities, pincodes, roles, tags, lists,
consent (with its history) and a few segments. Idempotent: a tenant that has contacts is left alone.
The Telegram bot's groups, channels and subscribers are seeded by seed_telegram, from channels/demo.py."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import F
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


# --- Telegram ----------------------------------------------------------------------------------
# Called by channels/demo.py once the Telegram sandbox config exists (groups belong to a bot config).

TELEGRAM_START_PAYLOADS = ("", "", "", "instore-qr", "newsletter", "festive-sale")


def seed_telegram(*, tenant, spec, users, config) -> None:
    """The bot's groups and channels with member counts, and its subscribers: the contacts that have
    a Telegram chat id, each with a username, a join date and the /start consent. Idempotent: a
    tenant whose bot already knows a chat is left alone. Its own random stream, so the seeds after
    it draw what they always drew."""
    from audiences.models import TelegramChat, TelegramSubscriber
    from audiences.telegram import telegram_subscriber_block

    if TelegramChat.objects.filter(tenant=tenant).exists():
        return
    rng = random.Random(f"demo-telegram-{tenant.slug}")
    now = timezone.now()
    cities = [city for city, _ in spec.cities]
    brand = spec.name.split()[0]
    chats = [
        (f"{cities[0]} deals", TelegramChat.Type.SUPERGROUP, TelegramChat.BotStatus.ADMINISTRATOR, 1842),
        (f"{cities[1]} deals", TelegramChat.Type.SUPERGROUP, TelegramChat.BotStatus.MEMBER, 967),
        (f"{brand} store staff", TelegramChat.Type.GROUP, TelegramChat.BotStatus.MEMBER, 38),
        (f"{brand} offers", TelegramChat.Type.CHANNEL, TelegramChat.BotStatus.ADMINISTRATOR, 12450),
        (f"{brand} product news", TelegramChat.Type.CHANNEL, TelegramChat.BotStatus.ADMINISTRATOR, 3310),
        (f"{cities[2]} launch party (old)", TelegramChat.Type.GROUP, TelegramChat.BotStatus.LEFT, 212),
    ]
    base_id = -1001800000000 - rng.randint(0, 999) * 1000
    TelegramChat.objects.bulk_create([
        TelegramChat(tenant=tenant, channel_config=config, chat_id=base_id - n, title=title, type=kind,
                     bot_status=status, member_count=members, member_count_at=now - dt.timedelta(hours=rng.randint(1, 5)),
                     username=title.lower().replace(" ", "_")[:32] if kind == TelegramChat.Type.CHANNEL else "",
                     last_post_at=now - dt.timedelta(hours=rng.randint(2, 240)) if status != "left" else None)
        for n, (title, kind, status, members) in enumerate(chats)
    ])

    contacts = list(Contact.objects.filter(tenant=tenant).exclude(telegram_chat_id="").order_by("created_at", "id"))
    subscribers, events = [], []
    for contact in contacts:
        joined = now - dt.timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1440))
        contact.telegram_username = f"{contact.first_name}_{contact.last_name}{rng.randint(1, 99)}".lower()
        subscribers.append(TelegramSubscriber(tenant=tenant, contact=contact, chat_id=contact.telegram_chat_id,
                                              joined_at=joined, start_payload=rng.choice(TELEGRAM_START_PAYLOADS)))
        if contact.consent_telegram == ConsentState.UNKNOWN:
            # /start is an opt-in of its own (ConsentSource.KEYWORD), as the webhook would record it.
            events.append(ConsentEvent(tenant=tenant, contact=contact, channel="telegram", state=ConsentState.OPTED_IN,
                                       previous_state=contact.consent_telegram, source=ConsentSource.KEYWORD,
                                       evidence={"provider": "telegram", "text": "/start", "keyword": "START"}))
            contact.consent_telegram = ConsentState.OPTED_IN
    Contact.objects.bulk_update(contacts, ["telegram_username", "consent_telegram"], batch_size=500)
    TelegramSubscriber.objects.bulk_create(subscribers, batch_size=500)
    # The subscribers page lists the newest first by created_at: let that be when they joined.
    TelegramSubscriber.objects.filter(tenant=tenant).update(created_at=F("joined_at"))
    ConsentEvent.objects.bulk_create(events, batch_size=500)
    # One subscriber blocked by the team, through the service, so the page shows the state and its history.
    if subscribers:
        telegram_subscriber_block(subscriber=subscribers[-1], actor=users.get("admin"))
