"""Writes to WhatsApp message templates: validation, approval (through the provider where its
adapter can, by an admin in the Sandbox), deletion guarded against campaigns that use them.

Adapters with capabilities.template_approval (Meta Cloud API, Twilio Content API) take a
channels.base.TemplateSpec in submit_template() and report the review in template_review();
the beat task templates_sync_task asks every few minutes for templates still in review. Only
the Sandbox gets the manual review.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.media import media_public_url
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignStatus,
    MessageTemplate,
    TemplateStatus,
)
from channels.base import Media, ProviderError, TemplateReview, TemplateSpec
from channels.models import ChannelConfig
from channels.registry import adapter_class
from channels.selectors import channel_adapter, channel_config_for

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9_]+$")
VARIABLE_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
ANY_PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}")
BODY_LIMIT = 1024
FOOTER_LIMIT = 60
BUTTON_TEXT_LIMIT = 25
MAX_BUTTONS = 3


class TemplateActionRefused(Exception):
    """Submit / sync / review / delete is not possible now; the message says why."""


def name_errors(name: str) -> list[str]:
    if not name:
        return ["Give the template a name."]
    if not NAME_RE.match(name):
        return ["Use only lower-case letters, digits and underscores (WhatsApp's rule), e.g. spring_sale_2026."]
    return []


def body_errors(body: str) -> list[str]:
    """WhatsApp's body rules: numbered variables {{1}}..{{n}} with no gaps, not first or last."""
    problems = []
    text = body.strip()
    if not text:
        return ["Write the message body."]
    if len(body) > BODY_LIMIT:
        problems.append(f"Keep the body under {BODY_LIMIT} characters (now {len(body)}).")
    for inner in ANY_PLACEHOLDER_RE.findall(body):
        if not inner.strip().isdigit():
            problems.append(f"“{{{{{inner}}}}}” is not allowed: WhatsApp templates use numbered variables "
                            "like {{1}}; the campaign fills them in.")
            break
    numbers = sorted({int(n) for n in VARIABLE_RE.findall(body)})
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        expected = ", ".join(f"{{{{{n}}}}}" for n in range(1, max(numbers) + 1))
        problems.append(f"Number the variables from {{{{1}}}} without gaps: expected {expected}.")
    if numbers and (VARIABLE_RE.match(text) or re.search(r"\{\{\s*\d+\s*\}\}[.!?]?$", text)):
        problems.append("WhatsApp rejects a body that starts or ends with a variable: add words around it.")
    return problems


def footer_errors(footer: str) -> list[str]:
    if len(footer) > FOOTER_LIMIT:
        return [f"Keep the footer under {FOOTER_LIMIT} characters."]
    if "{{" in footer:
        return ["The footer can't contain variables."]
    return []


def buttons_errors(buttons: list[dict]) -> list[str]:
    problems = []
    if len(buttons) > MAX_BUTTONS:
        problems.append(f"At most {MAX_BUTTONS} buttons.")
    for button in buttons:
        text = button.get("text", "")
        if not text:
            problems.append("Each button needs a label.")
        elif len(text) > BUTTON_TEXT_LIMIT:
            problems.append(f"Button “{text}”: keep labels under {BUTTON_TEXT_LIMIT} characters.")
        if button.get("type") == "url" and not str(button.get("url", "")).startswith("https://"):
            problems.append(f"Button “{text}”: a link button needs an https:// address.")
    return problems


def template_spec(template: MessageTemplate, *, with_file: bool = False) -> TemplateSpec:
    """The plain shape handed to an adapter's submit_template() / template_review(); with_file
    carries the header file's bytes too (a submission uploads it as Meta's example)."""
    header, header_bytes = None, b""
    if template.header_media_id:
        item = template.header_media
        header = Media(url=media_public_url(item), content_type=item.content_type, filename=item.original_name)
        if with_file:
            with item.file.open("rb") as fh:
                header_bytes = fh.read()
    return TemplateSpec(name=template.name, language=template.language, category=template.category,
                        body=template.body, footer=template.footer, buttons=tuple(template.buttons or ()),
                        samples=tuple(template.samples or ()),
                        header_media=header, header_bytes=header_bytes, provider_id=template.provider_template_id)


def template_approval_supported(config: ChannelConfig | None) -> bool:
    if config is None:
        return False
    try:
        return bool(adapter_class(config.provider).capabilities.template_approval)
    except (LookupError, ImportError, AttributeError):
        return False


def template_config(template: MessageTemplate) -> ChannelConfig | None:
    """The WhatsApp config the template belongs to: its own, else the workspace's default."""
    if template.channel_config_id and template.channel_config.enabled:
        return template.channel_config
    return channel_config_for(tenant=template.tenant, channel="whatsapp")


def manual_review_allowed(template: MessageTemplate) -> bool:
    """Only the Sandbox has no reviewer: an admin plays Meta there."""
    config = template_config(template)
    return config is not None and config.provider == "sandbox"


def _adapter(template: MessageTemplate):
    config = template_config(template)
    if config is None:
        raise TemplateActionRefused("Set up a WhatsApp channel first (Channels page): templates are approved "
                                    "per WhatsApp account.")
    return config, channel_adapter(config)


def template_mark_edited(*, template: MessageTemplate) -> None:
    """An edited template needs a new review: approved or rejected ones go back to draft."""
    if template.status == TemplateStatus.SUBMITTED:
        raise TemplateActionRefused(f"“{template.name}” is being reviewed and can't be changed until the "
                                    "review ends.")
    if template.status in (TemplateStatus.APPROVED, TemplateStatus.REJECTED):
        template.status = TemplateStatus.DRAFT
        template.rejection_reason = ""


def template_submit(*, template: MessageTemplate) -> MessageTemplate:
    if template.status not in (TemplateStatus.DRAFT, TemplateStatus.REJECTED):
        raise TemplateActionRefused(f"“{template.name}” is {template.get_status_display().lower()}: only drafts "
                                    "and rejected templates can be submitted.")
    config, adapter = _adapter(template)
    provider_id = template.provider_template_id
    if template_approval_supported(config):
        # A resubmission after a rejection goes to the same provider template (Meta edits it in place).
        spec = template_spec(template, with_file=True)
        if template.channel_config_id and template.channel_config_id != config.pk:
            spec = replace(spec, provider_id="")  # another account: a new template there
        try:
            review = adapter.submit_template(spec)
        except ProviderError as exc:
            raise TemplateActionRefused(f"{config.provider_label} refused the template: {exc.message}") from exc
        provider_id = review.provider_id or provider_id
    elif config.provider != "sandbox":
        raise TemplateActionRefused(f"Submitting templates through {config.provider_label} isn't supported here "
                                    "yet: submit it in the provider's console.")
    updated = MessageTemplate.objects.filter(
        pk=template.pk, status__in=(TemplateStatus.DRAFT, TemplateStatus.REJECTED),
    ).update(status=TemplateStatus.SUBMITTED, rejection_reason="", submitted_at=timezone.now(),
             provider_template_id=provider_id, channel_config=config)
    if not updated:
        raise TemplateActionRefused(f"“{template.name}” changed meanwhile; reload the page.")
    template.refresh_from_db()
    return template


def _apply_review(template: MessageTemplate, *, approved: bool, reason: str) -> MessageTemplate:
    reason = reason.strip()[:300]
    if not approved and not reason:
        raise TemplateActionRefused("Give the reason for the rejection, so the marketer can fix it.")
    updated = MessageTemplate.objects.filter(pk=template.pk, status=TemplateStatus.SUBMITTED).update(
        status=TemplateStatus.APPROVED if approved else TemplateStatus.REJECTED,
        rejection_reason="" if approved else reason, status_checked_at=timezone.now(),
    )
    if not updated:
        raise TemplateActionRefused(f"“{template.name}” is not waiting for review.")
    template.refresh_from_db()
    return template


def template_sync(*, template: MessageTemplate) -> MessageTemplate:
    """Ask the provider for the review outcome of a submitted template."""
    if template.status != TemplateStatus.SUBMITTED:
        raise TemplateActionRefused(f"“{template.name}” is not waiting for review.")
    config, adapter = _adapter(template)
    if not template_approval_supported(config):
        raise TemplateActionRefused(f"{config.provider_label} can't report template reviews here"
                                    f"{': an admin marks the outcome' if config.provider == 'sandbox' else ''}.")
    try:
        review = adapter.template_review(template_spec(template))
    except ProviderError as exc:
        raise TemplateActionRefused(f"{config.provider_label} didn't answer: {exc.message}") from exc
    if review.provider_id and review.provider_id != template.provider_template_id:
        MessageTemplate.objects.filter(pk=template.pk).update(provider_template_id=review.provider_id)
    if review.status in (TemplateReview.APPROVED, TemplateReview.REJECTED):
        return _apply_review(template, approved=review.status == TemplateReview.APPROVED,
                             reason=review.reason or "Rejected by the provider (no reason given).")
    MessageTemplate.objects.filter(pk=template.pk).update(status_checked_at=timezone.now())
    template.refresh_from_db()
    return template


def templates_sync_due(*, tenant_id: int, limit: int = 50) -> dict[str, int]:
    """Beat: ask the providers about this tenant's templates still in review, oldest check first.
    A provider error on one template is logged and the others go on."""
    outcome = {"checked": 0, "approved": 0, "rejected": 0, "failed": 0}
    due = (MessageTemplate.objects.filter(tenant_id=tenant_id, status=TemplateStatus.SUBMITTED)
           .select_related("tenant", "channel_config").order_by(F("status_checked_at").asc(nulls_first=True))[:limit])
    for template in due:
        if not template_approval_supported(template_config(template)):
            continue  # the Sandbox (an admin decides) or a provider without a review API
        try:
            template = template_sync(template=template)
        except TemplateActionRefused as exc:
            logger.warning("Template %s: sync failed: %s", template.pk, exc)
            outcome["failed"] += 1
            continue
        outcome["checked"] += 1
        if template.status in (TemplateStatus.APPROVED, TemplateStatus.REJECTED):
            outcome[template.status] += 1
    return outcome


def template_review(*, template: MessageTemplate, approved: bool, reason: str = "") -> MessageTemplate:
    """Sandbox only: an admin records the review Meta would make."""
    if not manual_review_allowed(template):
        raise TemplateActionRefused("Manual review is only for the Sandbox: real providers review templates "
                                    "themselves (use Sync status).")
    return _apply_review(template, approved=approved, reason=reason)


LIVE_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED)


def template_delete(*, template: MessageTemplate) -> None:
    with transaction.atomic():
        users = Campaign.objects.filter(
            tenant_id=template.tenant_id, status__in=LIVE_STATUSES, archived_at__isnull=True,
            pk__in=CampaignContent.objects.filter(channel="whatsapp", data__template_id=str(template.pk))
            .values("campaign_id"),
        ).values_list("name", flat=True)
        names = list(users[:3])
        if names:
            raise TemplateActionRefused(f"“{template.name}” is used by {', '.join(f'“{n}”' for n in names)}: "
                                        "those campaigns must finish or be cancelled first.")
        template.delete()
