"""Writes of the campaign wizard: the draft saved step by step, and a CSV turned into a contact list.

Every save re-reads the campaign FOR UPDATE and checks it is still editable, so a step posted
while someone else launches the campaign changes nothing (lifecycle.ensure_editable raises).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audiences.importer import ImportFileError, import_run
from audiences.models import ContactList, ImportJob
from audiences.selectors_telegram import TelegramTargets
from audiences.services_import import import_configure, import_upload
from campaigns.lifecycle import Action, ensure_editable, transition
from campaigns.media import media_store
from campaigns.models import Campaign, CampaignContent, CampaignStatus, ChannelBudget, SendMode
from tenants.models import Tenant


def _lock_editable(campaign: Campaign) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    ensure_editable(locked)
    return locked


def campaign_draft_create(*, tenant: Tenant, actor, fields: dict[str, Any]) -> Campaign:
    return Campaign.objects.create(tenant=tenant, created_by=actor, currency=tenant.currency, **fields)


def campaign_fields_update(*, campaign: Campaign, fields: dict[str, Any]) -> Campaign:
    """General and Advanced steps: plain campaign columns."""
    with transaction.atomic():
        _lock_editable(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(**fields)
        if "channels" in fields:
            # Content and budgets of channels no longer chosen go; the chosen ones keep theirs.
            campaign.contents.exclude(channel__in=fields["channels"]).delete()
            campaign.budgets.exclude(channel__in=fields["channels"]).delete()
    campaign.refresh_from_db()
    return campaign


def campaign_content_save(*, campaign: Campaign, channel: str, data: dict[str, Any], channel_config=None,
                          media_field: str = "", upload: UploadedFile | None = None,
                          audio: bool = False) -> CampaignContent:
    """Save one channel's content; an upload is validated (audio=True: a voice recording) and stored."""
    with transaction.atomic():
        _lock_editable(campaign)
        if upload is not None and media_field:
            data = {**data, media_field: str(media_store(campaign=campaign, upload=upload, audio=audio).pk)}
        content, _ = CampaignContent.objects.update_or_create(
            campaign=campaign, channel=channel,
            defaults={"tenant_id": campaign.tenant_id, "data": data, "channel_config": channel_config},
        )
    return content


def campaign_content_merge(*, campaign: Campaign, channel: str, values: dict[str, Any]) -> CampaignContent:
    """Set some fields of a channel's content, keeping the others (an AI variant picked)."""
    with transaction.atomic():
        _lock_editable(campaign)
        content, _ = CampaignContent.objects.get_or_create(
            campaign=campaign, channel=channel, defaults={"tenant_id": campaign.tenant_id})
        content.data = {**content.data, **values}
        content.save(update_fields=["data", "updated_at"])
    return content


def campaign_audience_save(*, campaign: Campaign, everyone: bool, segments, lists, tags,
                           telegram_targets: TelegramTargets | None = None) -> Campaign:
    """The contact audience and, for a Telegram campaign, its targets (kept in the Telegram
    content's data["targets"], where the fan-out reads them; the content's text is left alone)."""
    with transaction.atomic():
        _lock_editable(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(audience_everyone=everyone)
        campaign.segments.set(segments)
        campaign.lists.set(lists)
        campaign.tags.set(tags)
        if telegram_targets is not None:
            content, _ = CampaignContent.objects.select_for_update().get_or_create(
                campaign=campaign, channel="telegram", defaults={"tenant_id": campaign.tenant_id})
            content.data = {**content.data, "targets": telegram_targets.to_data()}
            content.save(update_fields=["data", "updated_at"])
    campaign.refresh_from_db()
    return campaign


def campaign_budget_schedule_save(*, campaign: Campaign, cleaned: dict[str, Any]) -> Campaign:
    """Budget and schedule. A campaign already scheduled follows its new time (beat reads
    next_run_at); switched to another send mode it goes back to draft, to be launched again."""
    with transaction.atomic():
        locked = _lock_editable(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(
            budget_total=cleaned["budget_total"], currency=cleaned["currency"], send_mode=cleaned["send_mode"],
            scheduled_at=cleaned["scheduled_at"], schedule_timezone=cleaned["schedule_timezone"],
            recurrence=cleaned["recurrence"], recurrence_rule=cleaned["recurrence_rule"],
            recurrence_end=cleaned["recurrence_end"], optimal_window_hours=cleaned["optimal_window_hours"],
        )
        allocations: dict[str, Decimal | None] = cleaned["allocations"]
        campaign.budgets.exclude(channel__in=[ch for ch, v in allocations.items() if v is not None]).delete()
        for channel, allocated in allocations.items():
            if allocated is not None:
                # `spent` is the engine's; only the allocation is the marketer's to change.
                ChannelBudget.objects.update_or_create(
                    campaign=campaign, channel=channel,
                    defaults={"tenant_id": campaign.tenant_id, "allocated": allocated})
        if locked.status == CampaignStatus.SCHEDULED:
            if cleaned["send_mode"] == SendMode.SCHEDULED:
                Campaign.objects.filter(pk=campaign.pk).update(next_run_at=cleaned["scheduled_at"])
            else:
                transition(locked, Action.UNSCHEDULE, next_run_at=None)
    campaign.refresh_from_db()
    return campaign


@dataclass
class CsvListResult:
    contact_list: ContactList | None
    added: int
    created: int
    rejected: int
    problems: list[str]  # the first few rejected rows, "Row 7: ..."


def contact_list_from_csv(*, tenant: Tenant, upload: UploadedFile, name: str, actor=None) -> CsvListResult:
    """A new list from a CSV, through the contact import engine (audiences.importer), run in-process.

    Columns are mapped from their headers as the import page would guess them; rows are matched to
    existing contacts by email (else phone), normalized, and bad rows rejected and counted. Consent
    changes only where the file has consent columns, recorded with history like any import.
    """
    try:
        job = import_upload(tenant=tenant, upload=upload, user=actor)
    except ImportFileError as exc:
        return CsvListResult(None, 0, 0, 0, [str(exc)])
    targets = set(job.mapping.values())
    if not targets & {"email", "phone"}:
        job.delete()
        return CsvListResult(None, 0, 0, 0, ["The first row must name an “email” or a “phone” column."])
    job = import_configure(job=job, mapping=job.mapping, match_on="email" if "email" in targets else "phone",
                           tag_names=[], new_list_name=name, enqueue=False)
    job = import_run(job=job)
    problems = [f"Row {r.row_number}: {r.reason}" for r in job.rejections.order_by("row_number")[:5]]
    if job.status == ImportJob.Status.FAILED:
        problems.insert(0, job.error_message)
    contact_list = job.add_to_list
    added = contact_list.contacts.count() if contact_list else 0
    return CsvListResult(contact_list, added, job.created_count, job.rejected_count, problems)
