"""Writes for AI auto-replies: triggers, the fallback instruction, the training status, queueing
inbound replies and answering them."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from audiences.models import ConsentState
from campaigns.ai_replies.answer import reply_decide
from campaigns.models import (
    AiTrainingStatus,
    AutoReply,
    AutoReplySettings,
    AutoReplySource,
    AutoReplyStatus,
    Campaign,
    Delivery,
    ResponseTrigger,
)
from campaigns.selectors import campaign_channel_config
from channels.base import OutboundMessage, ProviderError, StatusEvent
from channels.providers.meta_whatsapp import SESSION_WINDOW
from channels.selectors import channel_adapter
from tenants.urls_helpers import tenant_reverse

logger = logging.getLogger(__name__)

NOT_READY = "Add at least one response trigger or a fallback instruction before marking “{name}” as trained."


class TrainingRefused(Exception):
    """The campaign cannot be marked trained yet; the message says what to add."""


# --- settings --------------------------------------------------------------------------------------

def autoreply_settings_save(*, campaign: Campaign, instruction: str, model: str = "") -> AutoReplySettings:
    options, _ = AutoReplySettings.objects.update_or_create(
        campaign=campaign, tenant=campaign.tenant, defaults={"instruction": instruction.strip(), "model": model.strip()})
    return options


def trigger_save(*, campaign: Campaign, trigger: ResponseTrigger | None = None, kind: str, keywords: list[str],
                 intent: str, response: str, position: int) -> ResponseTrigger:
    trigger = trigger or ResponseTrigger(campaign=campaign, tenant=campaign.tenant)
    trigger.kind, trigger.keywords, trigger.intent = kind, keywords, intent.strip()
    trigger.response, trigger.position = response.strip(), position
    trigger.save()
    return trigger


def trigger_delete(*, trigger: ResponseTrigger) -> None:
    trigger.delete()


def training_ready(campaign: Campaign) -> bool:
    return (campaign.response_triggers.exists()
            or AutoReplySettings.objects.filter(campaign=campaign).exclude(instruction="").exists())


def training_status_set(*, campaign: Campaign, status: str) -> Campaign:
    """Not trained -> Trained needs a trigger or an instruction; Trained -> Not trained always works."""
    if status not in AiTrainingStatus.values:
        raise ValueError(f"Unknown training status {status!r}")
    if status == AiTrainingStatus.TRAINED and not training_ready(campaign):
        raise TrainingRefused(NOT_READY.format(name=campaign.name))
    Campaign.objects.filter(pk=campaign.pk).update(ai_training_status=status, updated_at=timezone.now())
    campaign.ai_training_status = status
    return campaign


# --- inbound replies -------------------------------------------------------------------------------

def inbound_replies_queue(*, replies: list[tuple[Delivery, StatusEvent]]) -> list[AutoReply]:
    """Called by the status engine, inside the webhook's transaction, for each inbound reply it
    recorded. Replies to trained WhatsApp campaigns become pending AutoReply rows, answered by a
    task once the transaction commits. Compliance keywords (STOP, HELP...) are audiences' business."""
    from campaigns.ai_replies.tasks import auto_reply_handle_task

    candidates = [(d, e) for d, e in replies
                  if d.channel == "whatsapp" and not e.keyword and e.text.strip() and not d.is_test]
    trained = set(Campaign.objects.filter(pk__in={d.campaign_id for d, _ in candidates},
                                          ai_training_status=AiTrainingStatus.TRAINED).values_list("pk", flat=True))
    queued = []
    for delivery, event in candidates:
        if delivery.campaign_id not in trained:
            continue
        try:
            with transaction.atomic():  # a savepoint: a replayed inbound must not break the webhook
                row = AutoReply.objects.create(
                    tenant_id=delivery.tenant_id, campaign_id=delivery.campaign_id, delivery=delivery,
                    inbound_text=event.text[:4000], inbound_event_id=event.event_id[:120],
                    received_at=event.occurred_at or timezone.now())
        except IntegrityError:
            continue
        queued.append(row)
        transaction.on_commit(lambda pk=row.pk, tenant_id=row.tenant_id: auto_reply_handle_task.delay(tenant_id, str(pk)))
    return queued


def _finish(row: AutoReply, **fields) -> None:
    fields["finished_at"] = timezone.now()
    AutoReply.objects.filter(pk=row.pk, status=AutoReplyStatus.SENDING).update(**fields)
    for name, value in fields.items():
        setattr(row, name, value)


def auto_reply_handle(*, auto_reply_id: str, now: dt.datetime | None = None) -> AutoReply | None:
    """Decide and send one pending auto-reply. Returns None when another worker already has it."""
    now = now or timezone.now()
    # The claim: only one worker moves a row from pending to sending.
    if not AutoReply.objects.filter(pk=auto_reply_id, status=AutoReplyStatus.PENDING).update(
            status=AutoReplyStatus.SENDING):
        return None
    row = AutoReply.objects.select_related("campaign__tenant", "delivery__contact", "delivery__channel_config").get(
        pk=auto_reply_id)
    campaign, delivery, contact = row.campaign, row.delivery, row.delivery.contact
    if campaign.ai_training_status != AiTrainingStatus.TRAINED:
        _finish(row, status=AutoReplyStatus.SKIPPED, note="The campaign is no longer trained.")
        return row
    if contact is not None and contact.consent("whatsapp") == ConsentState.OPTED_OUT:
        _finish(row, status=AutoReplyStatus.SKIPPED, note="The contact opted out of WhatsApp.")
        return row
    if now - row.received_at >= SESSION_WINDOW:
        _finish(row, status=AutoReplyStatus.SKIPPED, note="More than 24 hours since the contact wrote.")
        return row

    decision = reply_decide(campaign=campaign, text=row.inbound_text, contact=contact)
    if decision.source == AutoReplySource.HANDOVER:
        _finish(row, status=AutoReplyStatus.HANDOVER, source=decision.source, note=decision.note,
                error_code=decision.error_code)
        handover_notify(auto_reply=row)
        return row

    # Answer from the number the contact wrote to, when it is still enabled.
    config = delivery.channel_config if delivery.channel_config and delivery.channel_config.enabled else None
    config = config or campaign_channel_config(campaign, "whatsapp")
    outcome = {"source": decision.source, "trigger": decision.trigger, "reply_text": decision.text}
    if config is None:
        _finish(row, status=AutoReplyStatus.FAILED, error_code="no_config",
                error_message="WhatsApp has no enabled channel configuration.", **outcome)
        return row
    message = OutboundMessage(id=str(row.pk), to=delivery.address, text=decision.text,
                              options={"last_inbound_at": row.received_at.isoformat()})
    try:
        [result] = channel_adapter(config).send([message])
        error = result.error
    except ProviderError as exc:
        result, error = None, exc
    if error is not None:
        _finish(row, status=AutoReplyStatus.FAILED, error_code=(error.code or "")[:40],
                error_message=error.message[:500], **outcome)
        return row
    _finish(row, status=AutoReplyStatus.SENT, provider_message_id=(result.provider_message_id or "")[:120], **outcome)
    return row


# --- handovers --------------------------------------------------------------------------------------

def handover_recipients(campaign: Campaign) -> list[str]:
    """Who hears about a handover: the campaign's creator while they are still in the workspace;
    otherwise (or when they have no email address) the workspace's admins, so it never goes unseen."""
    from tenants.models import Membership, Role

    members = Membership.objects.filter(tenant_id=campaign.tenant_id).select_related("user")
    creator = campaign.created_by
    if creator is not None and creator.is_active and creator.email and members.filter(user=creator).exists():
        return [creator.email]
    return sorted({m.user.email for m in members.filter(role=Role.ADMIN, user__is_active=True) if m.user.email})


def handover_notify(*, auto_reply: AutoReply) -> bool:
    """Email the campaign's creator that a reply needs a person (Django's email backend).

    Claimed with a conditional update first, so a repeated task never sends a second email; a
    failing mail server is logged and leaves the handover in the queue on the campaign page, which
    is where it is answered anyway. Returns whether an email went out."""
    if not AutoReply.objects.filter(pk=auto_reply.pk, status=AutoReplyStatus.HANDOVER, notified_at__isnull=True).update(
            notified_at=timezone.now()):
        return False
    row = AutoReply.objects.select_related("campaign__tenant", "campaign__created_by", "delivery__contact").get(
        pk=auto_reply.pk)
    recipients = handover_recipients(row.campaign)
    if not recipients:
        logger.warning("Handover %s: nobody with an email address to tell (campaign %s)", row.pk, row.campaign_id)
        return False
    campaign, contact = row.campaign, row.delivery.contact
    who = f"{contact} ({row.delivery.address})" if contact else row.delivery.address
    link = settings.SITE_URL + tenant_reverse(campaign.tenant, "campaigns:detail", campaign.pk) + "#handovers"
    body = (f"A WhatsApp reply to “{campaign.name}” needs a person: the AI did not answer it.\n\n"
            f"From: {who}\nReceived: {timezone.localtime(row.received_at, campaign.tenant.tzinfo):%d %b %Y %H:%M %Z}\n"
            f"They wrote: {row.inbound_text[:1000]}\n"
            f"Why it was handed over: {row.note or 'the contact asked for a person'}\n\n"
            f"Answer them within 24 hours of their message (WhatsApp's session window), then mark it handled:\n"
            f"{link}\n")
    try:
        # One line: a header with a line break would be refused (BadHeaderError).
        name = " ".join(campaign.name.split())
        send_mail(subject=f"Needs a human: a reply to “{name}”"[:200], message=body,
                  from_email=None, recipient_list=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Handover %s: the notification email failed (%s)", row.pk, exc)
        return False
    return True


def handover_mark_handled(*, auto_reply: AutoReply, actor) -> bool:
    """Take a handover out of the "Needs a human" queue; False when it was not open (already handled)."""
    now = timezone.now()
    done = AutoReply.objects.filter(pk=auto_reply.pk, status=AutoReplyStatus.HANDOVER, handled_at__isnull=True).update(
        handled_at=now, handled_by=actor)
    if done:
        auto_reply.handled_at, auto_reply.handled_by = now, actor
    return bool(done)


# The grid's bulk "Update training status": action value -> status.
TRAINING_ACTIONS = {"ai_trained": AiTrainingStatus.TRAINED, "ai_not_trained": AiTrainingStatus.NOT_TRAINED}


def campaigns_training_set(*, tenant, ids: list[str], action: str):
    """Set the training status of each selected campaign of `tenant`; refusals keep their reason."""
    from campaigns.services_grid import BulkOutcome

    status = TRAINING_ACTIONS[action]
    outcome = BulkOutcome(action=action)
    for campaign in Campaign.objects.filter(tenant=tenant, pk__in=ids).order_by("name"):
        try:
            training_status_set(campaign=campaign, status=status)
        except TrainingRefused as exc:
            outcome.refused.append(str(exc))
        else:
            outcome.done.append(f"“{campaign.name}” {campaign.get_ai_training_status_display().lower()}")
    return outcome
