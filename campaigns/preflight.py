"""The wizard's review: what will happen if the marketer presses Send, computed before anything is sent.

Recipients per channel and why the others are left out come from the same q-builders as the
delivery engine's fan-out (audiences.selectors), in one aggregate query, so the review and the
send agree. Timezone buckets are one GROUP BY. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from audiences.models import CONSENT_CHANNELS, ConsentState, Contact, consent_field
from audiences.selectors import (
    address_present_q,
    consent_allows_q,
    not_suppressed_q,
    reachable_q,
    whatsapp_window_open_q,
)
from audiences.selectors_telegram import (
    SUBSCRIBERS_ALL,
    SUBSCRIBERS_AUDIENCE,
    telegram_chats_targeted,
    telegram_reach,
    telegram_subscriber_contacts,
)
from campaigns.content import content_for, sanitize_html
from campaigns.models import (
    CallingHoursMode,
    Campaign,
    CampaignContent,
    CampaignMedia,
    ChannelBudget,
    MessageTemplate,
    SendMode,
    TemplateStatus,
)
from campaigns.rendering import contact_context
from campaigns.selectors import (
    campaign_channel_config,
    campaign_contacts,
    campaign_telegram_targets,
)
from channels.providers import sms_segments
from tenants.models import CHANNEL_LABELS

# Must match the engine (campaigns.engine.dispatch.DEFAULT_CALLING_HOURS): SMS and voice wait for
# 08:00-21:00 in the recipient's zone unless the campaign sets its own hours.
DEFAULT_CALLING_HOURS = {"sms": (dt.time(8), dt.time(21)), "voice": (dt.time(8), dt.time(21))}
ADDRESS_COLUMN = {"email": "email", "sms": "phone", "whatsapp": "phone", "voice": "phone",
                  "telegram": "telegram_chat_id"}
OPT_OUT_HINTS = ("stop", "opt out", "opt-out", "optout", "unsubscribe")
SAMPLE_CONTACT = {
    "first_name": "Alex", "last_name": "Sample", "full_name": "Alex Sample", "email": "alex@example.com",
    "phone": "+15555550100", "city": "Springfield", "pincode": "", "role": "customer", "locale": "en",
    "timezone": "", "telegram_username": "", "custom": {},
}
SKIP_LABELS = {
    "no_address": "No address", "opted_out": "Opted out", "no_opt_in": "No opt-in",
    "suppressed": "Suppressed", "duplicate": "Duplicate address",
    "outside_window": "Outside the 24-hour window",
}


@dataclass
class ChannelRecipients:
    channel: str
    label: str
    audience: int = 0
    recipients: int = 0
    no_address: int = 0
    opted_out: int = 0
    no_opt_in: int = 0
    suppressed: int = 0
    duplicate: int = 0
    outside_window: int = 0  # WhatsApp session messages only
    # Informational: recipients without a time zone of their own (the workspace's is assumed).
    unknown_timezone: int = 0
    # Telegram: ticked groups and channels (one post each, counted in recipients) and their members.
    chats: int = 0
    chat_members: int = 0
    # Telegram: who the direct messages go to ("all", "audience", "none"); blank for other channels.
    telegram_subscribers: str = ""

    @property
    def left_out(self) -> int:
        return self.no_address + self.opted_out + self.no_opt_in + self.suppressed + self.duplicate + self.outside_window

    @property
    def reasons(self) -> list[tuple[str, int]]:
        return [(label, getattr(self, key)) for key, label in SKIP_LABELS.items() if getattr(self, key)]


def whatsapp_session(campaign: Campaign) -> bool:
    """Is the campaign's WhatsApp content a session message (free text inside the 24-hour window)?"""
    if "whatsapp" not in campaign.channels:
        return False
    content = campaign.contents.filter(channel="whatsapp").first()
    return bool(content) and (content.data or {}).get("mode", "template") == "session"


def campaign_reachable_q(ch: str, *, session: bool, now: dt.datetime) -> Q:
    """reachable_q, narrowed for a WhatsApp session message to contacts inside the 24-hour window
    (the fan-out skips the others with the same rule)."""
    if ch == "whatsapp" and session:
        return reachable_q(ch) & whatsapp_window_open_q(now)
    return reachable_q(ch)


def recipients_by_channel(campaign: Campaign, *, now: dt.datetime | None = None) -> list[ChannelRecipients]:
    """Per contact channel: who gets it and how many are left out, by reason (one aggregate query,
    plus one over the subscribers when Telegram goes to all of them). Telegram adds one recipient
    per ticked group or channel the bot is still in.

    Reasons are exclusive and checked in the fan-out's order: no address, opted out, no opt-in,
    suppressed, outside WhatsApp's 24-hour window (session messages only); among the rest, a
    second contact sharing an address is a duplicate. Recipients without a time zone are counted
    too (informational: they are sent to on the workspace's time).
    """
    channels = [c for c in campaign.channels if c in CONSENT_CHANNELS]
    if not channels:
        return []
    now = now or timezone.now()
    session = whatsapp_session(campaign)
    targets = campaign_telegram_targets(campaign) if "telegram" in channels else None
    separate = targets is not None and not targets.needs_audience
    rows = _channel_recipients(campaign_contacts(campaign), [c for c in channels if not (separate and c == "telegram")],
                               session=session, now=now)
    if targets is not None:
        if separate:
            if targets.subscribers == SUBSCRIBERS_ALL:
                [telegram] = _channel_recipients(telegram_subscriber_contacts(tenant_id=campaign.tenant_id),
                                                 ["telegram"], session=session, now=now)
            else:
                telegram = ChannelRecipients(channel="telegram", label=CHANNEL_LABELS["telegram"])
            rows.append(telegram)
        telegram = next(r for r in rows if r.channel == "telegram")
        telegram.telegram_subscribers = targets.subscribers
        reach = telegram_reach(tenant_id=campaign.tenant_id, subscribers="none", chat_ids=targets.chat_ids)
        telegram.chats, telegram.chat_members = reach["chats"], reach["members"]
        telegram.recipients += telegram.chats
    return sorted(rows, key=lambda r: channels.index(r.channel))


def _channel_recipients(contacts, channels: list[str], *, session: bool, now: dt.datetime) -> list[ChannelRecipients]:
    if not channels:
        return []
    aggregates: dict[str, Any] = {"total": Count("pk")}
    for ch in channels:
        has_address = address_present_q(ch)
        opted_out = Q(**{consent_field(ch): ConsentState.OPTED_OUT})
        reachable = campaign_reachable_q(ch, session=session, now=now)
        aggregates[f"{ch}__no_address"] = Count("pk", filter=~has_address)
        aggregates[f"{ch}__opted_out"] = Count("pk", filter=has_address & opted_out)
        aggregates[f"{ch}__no_opt_in"] = Count("pk", filter=has_address & ~opted_out & ~consent_allows_q(ch))
        if not_suppressed_q(ch):  # empty for channels without a suppressible address
            aggregates[f"{ch}__suppressed"] = Count("pk", filter=has_address & consent_allows_q(ch) & ~not_suppressed_q(ch))
        if ch == "whatsapp" and session:
            aggregates[f"{ch}__outside_window"] = Count("pk", filter=reachable_q(ch) & ~whatsapp_window_open_q(now))
        aggregates[f"{ch}__reachable"] = Count("pk", filter=reachable)
        aggregates[f"{ch}__no_tz"] = Count("pk", filter=reachable & Q(timezone=""))
        if ch in ADDRESS_COLUMN:
            aggregates[f"{ch}__distinct"] = Count(ADDRESS_COLUMN[ch], distinct=True, filter=reachable)
    row = contacts.order_by().aggregate(**aggregates)
    out = []
    for ch in channels:
        reachable = row[f"{ch}__reachable"]
        distinct = row.get(f"{ch}__distinct", reachable)
        out.append(ChannelRecipients(
            channel=ch, label=CHANNEL_LABELS[ch], audience=row["total"], recipients=distinct,
            no_address=row[f"{ch}__no_address"], opted_out=row[f"{ch}__opted_out"],
            no_opt_in=row[f"{ch}__no_opt_in"], suppressed=row.get(f"{ch}__suppressed", 0),
            duplicate=reachable - distinct, outside_window=row.get(f"{ch}__outside_window", 0),
            unknown_timezone=min(row[f"{ch}__no_tz"], distinct),
        ))
    return out


@dataclass
class TimezoneBucket:
    name: str
    from_contact: bool  # False: the contact has none and the workspace's zone is assumed
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return max(self.counts.values(), default=0)


def timezone_buckets(campaign: Campaign, *, now: dt.datetime | None = None) -> list[TimezoneBucket]:
    """Reachable contacts grouped by their local zone (blank: the workspace's), per channel; one GROUP BY.
    Telegram is left out when it does not message the audience (all subscribers, or chats only)."""
    channels = [c for c in campaign.channels if c in CONSENT_CHANNELS]
    if "telegram" in channels and not campaign_telegram_targets(campaign).needs_audience:
        channels.remove("telegram")
    if not channels:
        return []
    now = now or timezone.now()
    session = whatsapp_session(campaign)
    reach = {ch: campaign_reachable_q(ch, session=session, now=now) for ch in channels}
    any_reachable = Q()
    for ch in channels:
        any_reachable |= reach[ch]
    rows = (
        campaign_contacts(campaign).filter(any_reachable).order_by()
        .values("timezone")
        .annotate(**{ch: Count("pk", filter=reach[ch]) for ch in channels})
    )
    tenant_tz = campaign.tenant.timezone
    buckets: dict[str, TimezoneBucket] = {}
    for row in rows:
        name = row["timezone"] or tenant_tz
        bucket = buckets.setdefault(name, TimezoneBucket(name=name, from_contact=bool(row["timezone"])))
        bucket.from_contact = bucket.from_contact or bool(row["timezone"])
        for ch in channels:
            bucket.counts[ch] = bucket.counts.get(ch, 0) + row[ch]
    return sorted(buckets.values(), key=lambda b: (-b.total, b.name))


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def calling_window(campaign: Campaign, channel: str) -> tuple[dt.time, dt.time] | None:
    if campaign.calling_hours_start and campaign.calling_hours_end:
        return campaign.calling_hours_start, campaign.calling_hours_end
    return DEFAULT_CALLING_HOURS.get(channel)


def _window_state(t: dt.datetime, tz: zoneinfo.ZoneInfo, window: tuple[dt.time, dt.time]) -> tuple[dt.datetime, dt.datetime]:
    """(when sending may start at or after t, when that window closes), both aware UTC."""
    start, end = window
    local = t.astimezone(tz)
    for offset in (-1, 0, 1):
        day = local.date() + dt.timedelta(days=offset)
        opens = dt.datetime.combine(day, start).replace(tzinfo=tz)
        closes = dt.datetime.combine(day if start < end else day + dt.timedelta(days=1), end).replace(tzinfo=tz)
        if closes > t and (opens <= t or offset >= 0):
            return max(t, opens.astimezone(dt.UTC)), closes.astimezone(dt.UTC)
    raise AssertionError("unreachable: a window closes within two days")


def finish_time(*, start: dt.datetime, rate_per_second: float, buckets: list[tuple[zoneinfo.ZoneInfo, int]],
                window: tuple[dt.time, dt.time] | None) -> dt.datetime:
    """When the last message of a channel goes out, sending at `rate_per_second` and, with calling
    hours, only while each bucket's local window is open (one dispatcher per channel, so buckets
    take turns in the order their windows open)."""
    t = start
    if window is None:
        total = sum(n for _, n in buckets)
        return start + dt.timedelta(seconds=total / rate_per_second)
    pending = sorted(((_window_state(start, tz, window)[0], tz, n) for tz, n in buckets if n), key=lambda x: x[0])
    for _, tz, remaining in pending:
        for _day in range(366):  # a year of windows is far more than any audience needs
            if remaining <= 0:
                break
            t, closes = _window_state(t, tz, window)
            capacity = int((closes - t).total_seconds() * rate_per_second)
            sent = min(remaining, max(capacity, 0))
            t += dt.timedelta(seconds=sent / rate_per_second)
            remaining -= sent
            if remaining:
                t = closes
    return t


@dataclass
class ChannelEstimate:
    channel: str
    label: str
    config_name: str = ""
    rate_per_second: float = 0
    recipients: int = 0
    units_per_message: int = 1  # SMS: segments of the rendered sample
    unit_cost: Decimal = Decimal("0")
    cost: Decimal = Decimal("0")
    allocated: Decimal | None = None
    finish_at: dt.datetime | None = None

    @property
    def over_budget(self) -> bool:
        return self.allocated is not None and self.cost > self.allocated


@dataclass
class Preview:
    channel: str
    label: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (label, plain text)
    html: str = ""  # email only, sanitized
    error: str = ""


@dataclass
class Preflight:
    campaign: Campaign
    start: dt.datetime
    recipients: list[ChannelRecipients]
    buckets: list[TimezoneBucket]
    estimates: list[ChannelEstimate]
    previews: list[Preview]
    warnings: list[str]
    sample_name: str
    social_accounts: int = 0
    # Optimal-time sends: recipients per local hour (24 buckets), else None.
    optimal_hours: list[int] | None = None

    @property
    def optimal_rows(self) -> list[tuple[int, int, int]]:
        """(hour, recipients, percent of the largest hour) for the hours anyone gets it."""
        peak = max(self.optimal_hours or [0]) or 1
        return [(h, n, round(100 * n / peak)) for h, n in enumerate(self.optimal_hours or []) if n]

    @property
    def unknown_timezone(self) -> int:
        """Recipients (on any one channel, at most) whose local time is the workspace's by assumption."""
        return max((r.unknown_timezone for r in self.recipients), default=0)

    @property
    def whatsapp_session(self) -> bool:
        return whatsapp_session(self.campaign)

    @property
    def total_cost(self) -> Decimal:
        return sum((e.cost for e in self.estimates), Decimal("0"))

    @property
    def finish_at(self) -> dt.datetime | None:
        times = [e.finish_at for e in self.estimates if e.finish_at]
        return max(times) if times else None


def sample_contact(campaign: Campaign) -> Contact | None:
    """A contact the previews are rendered for: the first reachable one on the first channel."""
    contacts = campaign_contacts(campaign).order_by("created_at", "id")
    for ch in campaign.channels:
        if ch in CONSENT_CHANNELS:
            found = contacts.filter(reachable_q(ch)).first()
            if found is not None:
                return found
    return contacts.first()


def content_previews(campaign: Campaign, context: dict[str, Any]) -> list[Preview]:
    contents = {c.channel: c for c in campaign.contents.all()}
    out = []
    for ch in campaign.channels:
        data = contents[ch].data if ch in contents else {}
        typed = content_for(ch, data)
        preview = Preview(channel=ch, label=CHANNEL_LABELS[ch])
        problems = typed.errors()
        if problems:
            preview.error = "; ".join(m for msgs in problems.values() for m in msgs)
            out.append(preview)
            continue
        rendered = typed.render(context)
        if ch == "email":
            preview.fields = [("Subject", rendered["subject"])]
            preview.html = sanitize_html(rendered["html"])
        elif ch == "push":
            preview.fields = [("Title", rendered["title"]), ("Body", rendered["text"])]
        elif ch == "whatsapp" and typed.mode == "template":
            template = MessageTemplate.objects.filter(tenant_id=campaign.tenant_id, pk=typed.template_id or None).first()
            body = template.body if template else ""
            for index, value in enumerate(rendered["template_variables"], start=1):
                body = body.replace(f"{{{{{index}}}}}", value)
            preview.fields = [("Template", str(template) if template else "—"), ("Message", body)]
        elif ch == "voice" and getattr(typed, "audio_media_id", ""):
            recording = CampaignMedia.objects.filter(tenant_id=campaign.tenant_id, pk=typed.audio_media_id).first()
            preview.fields = [("Recording", recording.original_name if recording else "— (missing: upload it again)")]
        else:
            preview.fields = [("Message", rendered.get("text", ""))]
        out.append(preview)
    return out


def sms_units(campaign: Campaign, context: dict[str, Any]) -> tuple[int, str]:
    """(segments, encoding) of the SMS rendered for the sample contact."""
    content = campaign.contents.filter(channel="sms").first()
    typed = content_for("sms", content.data if content else {})
    if typed.errors():
        text = typed.text
    else:
        text = typed.render(context)["text"]
    encoding, parts = sms_segments.segments(text)
    return parts, encoding


def campaign_start_time(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    if campaign.send_mode == SendMode.SCHEDULED and campaign.scheduled_at and campaign.scheduled_at > now:
        return campaign.scheduled_at
    return now


def channel_estimates(campaign: Campaign, recipients: list[ChannelRecipients], buckets: list[TimezoneBucket],
                      *, start: dt.datetime, sms_parts: int, social_accounts: int) -> list[ChannelEstimate]:
    by_channel = {r.channel: r for r in recipients}
    contents = {c.channel: c for c in campaign.contents.select_related("channel_config")}
    budgets = {b.channel: b.allocated for b in ChannelBudget.objects.filter(campaign=campaign)}
    tenant_tz = campaign.tenant.tzinfo
    fixed_tz = None
    if campaign.calling_hours_mode == CallingHoursMode.FIXED and campaign.calling_hours_timezone:
        fixed_tz = _zone(campaign.calling_hours_timezone, tenant_tz)
    out = []
    for ch in campaign.channels:
        estimate = ChannelEstimate(channel=ch, label=CHANNEL_LABELS[ch], allocated=budgets.get(ch))
        estimate.recipients = social_accounts if ch == "social" else (by_channel[ch].recipients if ch in by_channel else 0)
        config = campaign_channel_config(campaign, ch, contents.get(ch))
        if ch == "sms":
            estimate.units_per_message = sms_parts
        if config is not None:
            estimate.config_name = config.name
            estimate.unit_cost = config.unit_cost
            estimate.cost = (config.unit_cost * estimate.recipients * estimate.units_per_message).quantize(Decimal("0.01"))
            rate = float(config.rate_per_second)
            if campaign.throttle_per_minute:
                rate = min(rate, campaign.throttle_per_minute / 60.0)
            estimate.rate_per_second = rate
            zoned = [(fixed_tz or _zone(b.name, tenant_tz), b.counts.get(ch, 0)) for b in buckets]
            if ch == "social" or (ch == "telegram" and ch in by_channel
                                  and by_channel[ch].telegram_subscribers != SUBSCRIBERS_AUDIENCE):
                # Not (only) the audience's contacts: no per-zone split, and no calling hours apply.
                zoned = [(tenant_tz, estimate.recipients)]
            estimate.finish_at = finish_time(start=start, rate_per_second=rate, buckets=zoned,
                                             window=calling_window(campaign, ch))
            if campaign.send_mode == SendMode.OPTIMAL:
                # Each recipient waits for their best hour: the window's end bounds the finish.
                estimate.finish_at = max(estimate.finish_at,
                                         start + dt.timedelta(hours=campaign.optimal_window_hours))
        out.append(estimate)
    return out


def preflight_warnings(campaign: Campaign, *, now: dt.datetime, sms_parts: int, sms_encoding: str,
                       estimates: list[ChannelEstimate]) -> list[str]:
    from social_accounts.selectors import social_accounts_needing_attention

    warnings: list[str] = []
    contents = {c.channel: c for c in CampaignContent.objects.filter(campaign=campaign)}
    if "whatsapp" in campaign.channels:
        data = contents["whatsapp"].data if "whatsapp" in contents else {}
        if data.get("mode", "template") == "template":
            template = MessageTemplate.objects.filter(tenant_id=campaign.tenant_id,
                                                      pk=data.get("template_id") or None).first()
            if template is None or template.status != TemplateStatus.APPROVED:
                state = template.get_status_display().lower() if template else "not chosen"
                warnings.append(f"The WhatsApp template is {state}: only approved templates can be sent.")
    if "sms" in campaign.channels:
        text = (contents["sms"].data.get("text", "") if "sms" in contents else "")
        if sms_parts > 1:
            warnings.append(f"The SMS is {sms_parts} segments ({sms_encoding}) for the sample contact: "
                            f"each recipient is billed {sms_parts} messages.")
        if not any(hint in text.lower() for hint in OPT_OUT_HINTS):
            warnings.append("The SMS has no opt-out text such as “Reply STOP to opt out”; carriers and the law "
                            "in many markets require it.")
    if campaign.send_mode == SendMode.SCHEDULED and campaign.scheduled_at and campaign.scheduled_at <= now:
        warnings.append("The scheduled time is in the past: choose a later time or send now.")
    start = campaign_start_time(campaign, now)
    tenant_tz = campaign.tenant.tzinfo
    zone = tenant_tz
    if campaign.calling_hours_mode == CallingHoursMode.FIXED and campaign.calling_hours_timezone:
        zone = _zone(campaign.calling_hours_timezone, tenant_tz)
    for ch in campaign.channels:
        window = calling_window(campaign, ch)
        if window and _window_state(start, zone, window)[0] > start:
            when = "now" if start == now else "at the scheduled time"
            warnings.append(f"{CHANNEL_LABELS[ch]}: it is outside calling hours ({window[0]:%H:%M}–{window[1]:%H:%M}, "
                            f"{zone.key}) {when}; messages wait until the window opens.")
    for estimate in estimates:
        if estimate.over_budget:
            warnings.append(f"{estimate.label}: the estimated cost {estimate.cost} is over its budget of "
                            f"{estimate.allocated:.2f}; sending stops when the budget is spent.")
        if not estimate.config_name:
            warnings.append(f"{estimate.label} has no enabled channel configuration.")
    if "telegram" in campaign.channels:
        targets = campaign_telegram_targets(campaign)
        gone = len(targets.chat_ids) - telegram_chats_targeted(tenant_id=campaign.tenant_id,
                                                               chat_ids=targets.chat_ids).count()
        if gone > 0:
            warnings.append(f"Telegram: the bot is no longer in {gone} of the ticked groups or channels; "
                            f"{'they get' if gone > 1 else 'it gets'} nothing.")
    if "social" in campaign.channels:
        chosen = set((contents["social"].data.get("accounts") if "social" in contents else None) or [])
        for account in social_accounts_needing_attention(campaign.tenant):
            if chosen and str(account.pk) not in chosen:
                continue
            warnings.append(f"Social account {account} is {account.get_status_display().lower()}: reconnect it "
                            "before sending.")
    return warnings


def campaign_preflight(campaign: Campaign, *, now: dt.datetime | None = None) -> Preflight:
    now = now or timezone.now()
    contact = sample_contact(campaign)
    context = contact_context(contact) if contact is not None else dict(SAMPLE_CONTACT)
    recipients = recipients_by_channel(campaign, now=now)
    buckets = timezone_buckets(campaign, now=now)
    sms_parts, sms_encoding = sms_units(campaign, context) if "sms" in campaign.channels else (1, "")
    social_content = campaign.contents.filter(channel="social").first()
    social_accounts = len((social_content.data.get("accounts") if social_content else None) or [])
    start = campaign_start_time(campaign, now)
    optimal_hours = None
    if campaign.send_mode == SendMode.OPTIMAL:
        from campaigns.engine.optimal import optimal_hour_distribution

        session = whatsapp_session(campaign)
        any_reachable = Q()
        for ch in campaign.channels:
            if ch in CONSENT_CHANNELS:
                any_reachable |= campaign_reachable_q(ch, session=session, now=now)
        optimal_hours = optimal_hour_distribution(tenant=campaign.tenant,
                                                  contacts=campaign_contacts(campaign).filter(any_reachable))
    estimates = channel_estimates(campaign, recipients, buckets, start=start, sms_parts=sms_parts,
                                  social_accounts=social_accounts)
    warnings = preflight_warnings(campaign, now=now, sms_parts=sms_parts, sms_encoding=sms_encoding,
                                  estimates=estimates)
    for r in recipients:
        if r.channel == "whatsapp" and r.outside_window:
            warnings.append(f"WhatsApp: {r.outside_window} contact{'s' if r.outside_window != 1 else ''} haven't "
                            "written to you in the last 24 hours, so the session message can't reach them; "
                            "choose an approved template to include them.")
    return Preflight(
        campaign=campaign, start=start, recipients=recipients, buckets=buckets, estimates=estimates,
        previews=content_previews(campaign, context), warnings=warnings,
        sample_name=str(contact) if contact is not None else "a sample contact (Alex Sample)",
        social_accounts=social_accounts, optimal_hours=optimal_hours,
    )
