"""One object of every kind a tenant URL can name, with `text` in every free-text field.

The isolation sweep builds them with harmless text in tenant A; the XSS sweep builds them with a
payload. Keys are the kinds used by tests/security/routes.py:ID_KINDS; a kind missing here makes
the sweeps fail, naming it.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from audiences.models import (
    ConsentState,
    Contact,
    ContactDeleteJob,
    ContactList,
    ImportJob,
    ImportRejection,
    Segment,
    Suppression,
    SuppressionKind,
    Tag,
    TelegramChat,
    TelegramSubscriber,
)
from campaigns.journeys.workflow import step_add, step_update
from campaigns.models import (
    AutoReply,
    AutoReplySource,
    AutoReplyStatus,
    Campaign,
    CampaignContent,
    CampaignRun,
    CampaignType,
    Delivery,
    DeliveryStatus,
    MessageTemplate,
    ResponseTrigger,
    RunChannelStats,
    RunStatus,
    StepKind,
    WorkflowStep,
)
from channels.models import ChannelConfig
from social_accounts.models import Platform, SocialAccount
from tenants.models import ApiKey
from tenants.scoping import tenant_scope
from tenants.services import api_key_create


def build_world(tenant, *, actor, text: str = "Pune") -> dict[str, object]:
    """Create one object per kind in `tenant` (MEDIA_ROOT should point at a temporary directory)."""
    with tenant_scope(tenant):
        tag = Tag.objects.create(tenant=tenant, name=f"{text} tag"[:60])
        contact = Contact.objects.create(
            tenant=tenant, first_name=text[:80], last_name=text[:80], city=text[:80], email="asha@example.com",
            phone="+919800000001", consent_email=ConsentState.OPTED_IN, consent_sms=ConsentState.OPTED_IN,
            attributes={"plan": text, text[:40]: "gold"},
        )
        contact.tags.add(tag)
        contact_list = ContactList.objects.create(tenant=tenant, name=f"{text} list"[:120], description=text)
        contact_list.contacts.add(contact)
        segment = Segment.objects.create(
            tenant=tenant, name=f"{text} segment"[:120], description=text, created_by=actor,
            rules={"match": "all", "rules": [{"field": "city", "op": "in", "value": [text]}]},
        )
        suppression = Suppression.objects.create(tenant=tenant, kind=SuppressionKind.EMAIL,
                                                 value="blocked@example.com", reason=text[:200])
        import_job = ImportJob.objects.create(
            tenant=tenant, original_name=f"{text}.csv", headers=["email", text], created_by=actor,
            status=ImportJob.Status.COMPLETED, total_rows=1, processed_rows=1, rejected_count=1,
            file=ContentFile(f"email,x\nnot-an-email,{text}\n".encode(), name="people.csv"),
        )
        ImportRejection.objects.create(tenant=tenant, job=import_job, row_number=2, reason=text[:300],
                                       raw=f"not-an-email,{text}")
        config = ChannelConfig(tenant=tenant, name=f"{text} config"[:80], channel="email", provider="sandbox",
                               settings={}, rate_per_second=100.0, unit_cost=Decimal("0.01"), is_default=True)
        config.set_secrets({})
        config.save()
        template = MessageTemplate.objects.create(tenant=tenant, name="spring_sale", language="en",
                                                  body=f"Hi {{{{1}}}} {text}", footer=text[:60])
        campaign = Campaign.objects.create(
            tenant=tenant, name=text[:160], description=text, notes=text, channels=["email", "sms"],
            status="completed", audience_everyone=True, created_by=actor,
        )
        CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="email",
                                       data={"subject": text, "html": f"<p>{text}</p>"})
        CampaignContent.objects.create(tenant=tenant, campaign=campaign, channel="sms", data={"text": text})
        run = CampaignRun.objects.create(tenant=tenant, campaign=campaign, occurrence_at=timezone.now(),
                                         status=RunStatus.COMPLETED, fanned_out_at=timezone.now())
        for channel in campaign.channels:
            # Counters agree with the one failed SMS delivery below (retrying it decrements them).
            RunChannelStats.objects.create(tenant=tenant, run=run, campaign=campaign, channel=channel,
                                           failed=int(channel == "sms"))
        delivery = Delivery.objects.create(tenant=tenant, run=run, campaign=campaign, contact=contact, channel="sms",
                                status=DeliveryStatus.FAILED, address=contact.phone, error_code="21211",
                                error_message=text[:500], reply_text=text)
        social = SocialAccount(tenant=tenant, platform=Platform.choices[0][0], handle=text[:100],
                               status_message=text[:500])
        social.set_secrets({"access_token": "x"})
        social.save()
        api_key, _raw = api_key_create(tenant=tenant, name=text[:80], actor=actor)
        delete_job = ContactDeleteJob.objects.create(tenant=tenant, filter_query=f"q={text}"[:500],
                                                     created_before=timezone.now(), total=1, created_by=actor)
        # A drip campaign (only those have a workflow) with one send step; an auto-reply trigger.
        journey = Campaign.objects.create(tenant=tenant, name=f"{text} journey"[:160], description=text,
                                          type=CampaignType.DRIP, channels=["email"], created_by=actor)
        step = step_update(step=step_add(campaign=journey, kind=StepKind.SEND),
                           values={"channel": "email", "data": {"subject": text, "html": f"<p>{text}</p>"}})
        trigger = ResponseTrigger.objects.create(tenant=tenant, campaign=campaign, keywords=[text.lower()[:40]],
                                                 intent=text, response=text)
        # A reply the AI handed over to a person (the "Needs a human" queue), not handled yet.
        handover = AutoReply.objects.create(tenant=tenant, campaign=campaign, delivery=delivery, inbound_text=text,
                                            received_at=timezone.now(), status=AutoReplyStatus.HANDOVER,
                                            source=AutoReplySource.HANDOVER, note=text[:300])
        # Telegram: a bot config, a group it is in and a subscriber who started it.
        bot = ChannelConfig(tenant=tenant, name=f"{text} bot"[:80], channel="telegram", provider="telegram",
                            settings={}, rate_per_second=30.0, unit_cost=Decimal("0"), is_default=True)
        bot.set_secrets({"bot_token": "123456:ABC-test", "webhook_secret": "s3cret-token"})
        bot.save()
        group = TelegramChat.objects.create(tenant=tenant, channel_config=bot, chat_id=-100777, title=text[:255],
                                            type=TelegramChat.Type.SUPERGROUP, member_count=12)
        subscriber_contact = Contact.objects.create(tenant=tenant, first_name=text[:80], telegram_chat_id="5550001",
                                                    telegram_username="subscriber")
        subscriber = TelegramSubscriber.objects.create(tenant=tenant, contact=subscriber_contact, chat_id="5550001",
                                                       joined_at=timezone.now(), start_payload=text[:64])
    return {
        "tag": tag, "contact": contact, "contact_list": contact_list, "segment": segment,
        "suppression": suppression, "import_job": import_job, "channel_config": config, "template": template,
        "campaign": campaign, "social_account": social, "api_key": api_key, "journey_campaign": journey,
        "workflow_step": step, "autoreply_trigger": trigger, "autoreply_handover": handover, "telegram_group": group,
        "telegram_subscriber": subscriber, "contact_delete_job": delete_job,
    }


def snapshot(tenant) -> dict[str, list[tuple]]:
    """Every row of every kind the tenant has: a cross-tenant write or delete changes it."""
    with tenant_scope(tenant):
        return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in (
            Tag, Contact, ContactList, Segment, Suppression, ImportJob, ChannelConfig, MessageTemplate,
            Campaign, CampaignRun, SocialAccount, Delivery, ApiKey, WorkflowStep, ResponseTrigger, TelegramChat,
            TelegramSubscriber, AutoReply)}
