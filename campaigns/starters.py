"""Starter campaign templates: ready-made campaigns a marketer adapts instead of starting blank.

Each starter has content for every channel it suggests, written with the personalisation syntax
(`{{ first_name | default: "there" }}`). `campaign_from_starter` turns one into a draft; channels
switched off for the workspace are left out. WhatsApp content points at an approved template of
the suggested name when the workspace has one, else the marketer picks one in the wizard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignPurpose,
    CampaignStatus,
    CampaignType,
)
from campaigns.selectors_templates import approved_templates
from tenants.models import CHANNEL_LABELS

HI = '{{ first_name | default: "there" }}'


@dataclass(frozen=True)
class Starter:
    key: str
    name: str
    purpose: str
    summary: str
    channels: tuple[str, ...]
    content: dict[str, dict[str, Any]] = field(default_factory=dict)
    whatsapp_template: str = ""  # suggested approved template name
    whatsapp_variables: tuple[str, ...] = ()
    type: str = CampaignType.BROADCAST

    @property
    def channel_badges(self) -> list[tuple[str, str]]:
        return [(c, CHANNEL_LABELS[c]) for c in self.channels]


STARTERS: dict[str, Starter] = {s.key: s for s in (
    Starter(
        key="flash-sale", name="Flash sale", purpose=CampaignPurpose.PROMOTIONAL,
        summary="A short, urgent discount with a code and a deadline.",
        channels=("sms", "whatsapp", "email", "push"),
        whatsapp_template="flash_sale_offer", whatsapp_variables=(HI, "30%", "FLASH30"),
        content={
            "sms": {"text": "Hi {{ first_name | default: 'there' }}! Flash sale: 30% off everything until midnight with code FLASH30. "
                            "Shop: https://example.com/sale Reply STOP to opt out"},
            "email": {
                "subject": "{{ first_name | default: \"Hey\" }}, 30% off ends at midnight",
                "preheader": "Use code FLASH30 before the clock runs out.",
                "html": "<h1>Flash sale: 30% off</h1><p>Hi {{ first_name | default: 'there' }},</p><p>For the next few hours everything is "
                        "30% off. Use code <strong>FLASH30</strong> at checkout.</p>"
                        '<p><a href="https://example.com/sale">Shop the sale</a></p>'
                        "<p>Ends tonight at midnight.</p>",
            },
            "push": {"title": "Flash sale: 30% off", "body": "Code FLASH30, tonight only. Tap to shop.",
                     "url": "https://example.com/sale"},
            "whatsapp": {"mode": "template"},
        },
    ),
    Starter(
        key="product-launch", name="New product launch", purpose=CampaignPurpose.PROMOTIONAL,
        summary="Introduce something new, with an early-bird offer for your audience.",
        channels=("email", "social", "push"),
        content={
            "email": {
                "subject": "Meet our newest product",
                "preheader": "Be among the first to try it, with an early-bird offer.",
                "html": "<h1>It's here</h1><p>Hi {{ first_name | default: 'there' }},</p><p>We've been working on something new and you're "
                        "among the first to hear about it. As an early customer you get 15% off this week.</p>"
                        '<p><a href="https://example.com/new">See what\'s new</a></p>',
            },
            "social": {"text": "Something new just landed. Early-bird offer this week only: "
                               "https://example.com/new #launch"},
            "push": {"title": "Just launched", "body": "Be among the first to try it. Early-bird price this week.",
                     "url": "https://example.com/new"},
        },
    ),
    Starter(
        key="survey-request", name="Survey request", purpose=CampaignPurpose.ENGAGEMENT,
        summary="Ask for two minutes of feedback after a purchase or a visit.",
        channels=("email", "sms"),
        content={
            "email": {
                "subject": "Two minutes to help us improve?",
                "preheader": "Five quick questions about your recent experience.",
                "html": "<p>Hi {{ first_name | default: 'there' }},</p><p>We'd love to hear how we did. The survey has five questions and "
                        'takes about two minutes.</p><p><a href="https://example.com/survey">Take the survey</a></p>'
                        "<p>Thank you for helping us get better.</p>",
            },
            "sms": {"text": "Hi {{ first_name | default: 'there' }}, how did we do? Tell us in 2 minutes: https://example.com/survey "
                            "Reply STOP to opt out"},
        },
    ),
    Starter(
        key="event-invitation", name="Event invitation", purpose=CampaignPurpose.EVENT,
        summary="Invite your audience to an event, with the date and a registration link.",
        channels=("email", "whatsapp", "telegram"),
        whatsapp_template="event_invitation", whatsapp_variables=(HI, "our open house", "Saturday 10:00"),
        content={
            "email": {
                "subject": "You're invited",
                "preheader": "Save the date and reserve your seat.",
                "html": "<h1>You're invited</h1><p>Hi {{ first_name | default: 'there' }},</p><p>Join us for our open house on Saturday at "
                        "10:00 in {{ city | default: \"your city\" }}. Meet the team, see demos and enjoy "
                        'refreshments.</p><p><a href="https://example.com/event">Reserve your seat</a></p>',
            },
            "telegram": {"text": "<b>You're invited!</b>\nOpen house this Saturday at 10:00. Seats are limited.",
                         "buttons": [{"text": "Reserve a seat", "url": "https://example.com/event"}]},
            "whatsapp": {"mode": "template"},
        },
    ),
    Starter(
        key="order-confirmation", name="Order confirmation", purpose=CampaignPurpose.INFORMATIONAL,
        summary="Confirm an order and share tracking, triggered by the order event.",
        channels=("email", "sms", "whatsapp"), type=CampaignType.TRIGGERED,
        whatsapp_template="order_update", whatsapp_variables=(HI, "{{ custom.order_id }}"),
        content={
            "email": {
                "subject": "Order confirmed: {{ custom.order_id | default: \"your order\" }}",
                "preheader": "Thanks for your order. Here's how to track it.",
                "html": "<p>Hi {{ first_name | default: 'there' }},</p><p>Thanks for your order <strong>{{ custom.order_id | default: \"\" }}"
                        "</strong>. We'll let you know when it ships.</p>"
                        '<p><a href="https://example.com/orders">Track your order</a></p>',
            },
            "sms": {"text": "Order {{ custom.order_id | default: \"\" }} confirmed. Track it: "
                            "https://example.com/orders"},
            "whatsapp": {"mode": "template"},
        },
    ),
    Starter(
        key="appointment-reminder", name="Appointment reminder", purpose=CampaignPurpose.FOLLOW_UP,
        summary="Remind people of an upcoming appointment, by text and by phone.",
        channels=("sms", "voice", "whatsapp"), type=CampaignType.TRIGGERED,
        whatsapp_template="appointment_reminder",
        whatsapp_variables=(HI, "{{ custom.appointment_date }}", "{{ custom.appointment_time }}"),
        content={
            "sms": {"text": "Hi {{ first_name | default: 'there' }}, a reminder of your appointment on {{ custom.appointment_date | default: "
                            "\"the booked date\" }}. Reply C to confirm or call us to reschedule."},
            "voice": {"script": "Hello {{ first_name | default: 'there' }}. This is a reminder of your appointment on "
                                "{{ custom.appointment_date | default: \"your booked date\" }}. "
                                "If you need to reschedule, please call us back. Thank you.",
                      "amd_enabled": True, "amd_action": "voicemail",
                      "voicemail_text": "Hello, this is a reminder of your upcoming appointment. Please call us "
                                        "if you need to reschedule."},
            "whatsapp": {"mode": "template"},
        },
    ),
)}


def starter_list() -> list[Starter]:
    return list(STARTERS.values())


def campaign_from_starter(*, tenant, actor, key: str) -> Campaign:
    """A new draft prefilled from the starter `key` (KeyError for an unknown key)."""
    starter = STARTERS[key]
    channels = [c for c in starter.channels if tenant.channel_enabled(c)] or list(starter.channels)
    approved = {t.name: t for t in approved_templates(tenant)} if "whatsapp" in channels else {}
    with transaction.atomic():
        campaign = Campaign.objects.create(
            tenant=tenant, name=starter.name, description=starter.summary, type=starter.type,
            purpose=starter.purpose, channels=channels, status=CampaignStatus.DRAFT, created_by=actor,
            currency=tenant.currency,
        )
        contents = []
        for channel in channels:
            data = dict(starter.content.get(channel, {}))
            if channel == "whatsapp":
                template = approved.get(starter.whatsapp_template)
                if template is not None:
                    data["template_id"] = str(template.pk)
                    data["variables"] = list(starter.whatsapp_variables[: template.variable_count])
            contents.append(CampaignContent(tenant=tenant, campaign=campaign, channel=channel, data=data))
        CampaignContent.objects.bulk_create(contents)
    return campaign
