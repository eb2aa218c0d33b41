"""Demo seed: a Sandbox config for every channel, so the demo tenants send end to end with no
credentials (messages appear on the Outbox page), and the Telegram bot's demo groups and subscribers
(audiences.demo.seed_telegram). Idempotent: existing configs are left alone."""

from __future__ import annotations

from decimal import Decimal

from channels.models import ChannelConfig
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS

# Roughly what each channel costs per message, to make budget estimates in the demo plausible.
UNIT_COSTS = {
    "INR": {"email": "0.02", "push": "0", "sms": "0.18", "whatsapp": "0.78", "telegram": "0", "voice": "1.20",
            "social": "0"},
    "USD": {"email": "0.001", "push": "0", "sms": "0.0079", "whatsapp": "0.025", "telegram": "0", "voice": "0.014",
            "social": "0"},
}


def seed(*, tenant, spec, users, rng) -> None:
    costs = UNIT_COSTS.get(tenant.currency, UNIT_COSTS["USD"])
    existing = set(ChannelConfig.objects.filter(tenant=tenant).values_list("name", flat=True))
    has_default = set(ChannelConfig.objects.filter(tenant=tenant, is_default=True).values_list("channel", flat=True))
    new = []
    for channel in CHANNEL_KEYS:
        name = f"{CHANNEL_LABELS[channel]} sandbox"
        if name in existing:
            continue
        config = ChannelConfig(
            tenant=tenant, name=name, channel=channel, provider="sandbox",
            settings={"sender": f"{spec.name} demo"}, rate_per_second=50.0,
            unit_cost=Decimal(costs[channel]), enabled=True, is_default=channel not in has_default,
        )
        config.set_secrets({})
        new.append(config)
    ChannelConfig.objects.bulk_create(new)

    # The Telegram bot's groups, channels and subscribers need its config, so they come from here.
    from audiences.demo import seed_telegram

    telegram = ChannelConfig.objects.filter(tenant=tenant, channel="telegram", name=f"{CHANNEL_LABELS['telegram']} sandbox").first()
    if telegram is not None:
        seed_telegram(tenant=tenant, spec=spec, users=users, config=telegram)
