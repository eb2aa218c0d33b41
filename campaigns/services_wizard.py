"""Writes of the campaign wizard: the draft saved step by step, and a CSV turned into a contact list.

Every save re-reads the campaign FOR UPDATE and checks it is still editable, so a step posted
while someone else launches the campaign changes nothing (lifecycle.ensure_editable raises).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audiences.models import Contact, ContactList
from audiences.services import email_normalize, phone_normalize
from campaigns.lifecycle import Action, ensure_editable, transition
from campaigns.media import media_store
from campaigns.models import Campaign, CampaignContent, CampaignStatus, ChannelBudget, SendMode
from tenants.models import Tenant

CSV_CHUNK = 1000


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
                          media_field: str = "", upload: UploadedFile | None = None) -> CampaignContent:
    with transaction.atomic():
        _lock_editable(campaign)
        if upload is not None and media_field:
            data = {**data, media_field: str(media_store(campaign=campaign, upload=upload).pk)}
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


def campaign_audience_save(*, campaign: Campaign, everyone: bool, segments, lists, tags) -> Campaign:
    with transaction.atomic():
        _lock_editable(campaign)
        Campaign.objects.filter(pk=campaign.pk).update(audience_everyone=everyone)
        campaign.segments.set(segments)
        campaign.lists.set(lists)
        campaign.tags.set(tags)
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
    problems: list[str]  # the first few rejected rows, "row 7: ..."


def contact_list_from_csv(*, tenant: Tenant, upload: UploadedFile, name: str) -> CsvListResult:
    """A new list from a CSV with email and/or phone columns, streamed in chunks.

    Rows are matched to existing contacts by email, then phone; unknown addresses become new
    contacts with unknown consent (nothing is opted in by an upload). Rows with neither a valid
    email nor a valid phone are rejected and counted.
    """
    stream = io.TextIOWrapper(upload.file, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.DictReader(stream)
    headers = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    email_col = next((headers[h] for h in ("email", "e-mail", "email address") if h in headers), None)
    phone_col = next((headers[h] for h in ("phone", "mobile", "phone number", "msisdn") if h in headers), None)
    if not email_col and not phone_col:
        return CsvListResult(None, 0, 0, 0, ["The first row must name an “email” or a “phone” column."])
    first_col, last_col = headers.get("first_name"), headers.get("last_name")
    rejected, problems = 0, []
    created = 0
    with transaction.atomic():
        contact_list = ContactList.objects.create(tenant=tenant, name=name, description="Uploaded in the campaign wizard")
        chunk: list[tuple[str, str, str, str]] = []

        def flush() -> None:
            nonlocal created
            ids, new = _contacts_for_rows(tenant, chunk)
            created += new
            through = ContactList.contacts.through
            through.objects.bulk_create([through(contactlist_id=contact_list.pk, contact_id=i) for i in ids],
                                        ignore_conflicts=True)
            chunk.clear()

        for number, row in enumerate(reader, start=2):
            email, phone, reasons = "", "", []
            try:
                email = email_normalize(row.get(email_col) or "") if email_col else ""
            except ValueError as exc:
                reasons.append(str(exc))
            try:
                phone = phone_normalize(row.get(phone_col) or "", region=tenant.default_phone_region) if phone_col else ""
            except ValueError as exc:
                reasons.append(str(exc))
            if not email and not phone:
                rejected += 1
                if len(problems) < 5:
                    problems.append(f"Row {number}: " + ("; ".join(reasons) or "no email or phone"))
                continue
            chunk.append((email, phone, (row.get(first_col) or "").strip()[:80] if first_col else "",
                          (row.get(last_col) or "").strip()[:80] if last_col else ""))
            if len(chunk) >= CSV_CHUNK:
                flush()
        if chunk:
            flush()
        added = contact_list.contacts.count()
    return CsvListResult(contact_list, added, created, rejected, problems)


def _contacts_for_rows(tenant: Tenant, rows: list[tuple[str, str, str, str]]) -> tuple[list, int]:
    """Contact ids for a chunk of (email, phone, first, last), creating the unknown ones in bulk."""
    emails = {r[0] for r in rows if r[0]}
    phones = {r[1] for r in rows if r[1]}
    by_email = dict(Contact.objects.filter(tenant=tenant, email__in=emails).values_list("email", "id"))
    by_phone = dict(Contact.objects.filter(tenant=tenant, phone__in=phones).values_list("phone", "id"))
    ids, new_contacts = [], []
    for email, phone, first, last in rows:
        found = (by_email.get(email) if email else None) or (by_phone.get(phone) if phone else None)
        if found is None:
            contact = Contact(tenant=tenant, email=email, phone=phone, first_name=first, last_name=last)
            new_contacts.append(contact)
            found = contact.pk
            if email:
                by_email[email] = found
            if phone:
                by_phone[phone] = found
        ids.append(found)
    Contact.objects.bulk_create(new_contacts, batch_size=CSV_CHUNK)
    return ids, len(new_contacts)
