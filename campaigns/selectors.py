"""Reads over campaigns: the audience a campaign targets, whether it is ready to launch, its progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import QuerySet, Sum
from django.utils import timezone

from audiences.models import Contact
from audiences.selectors import audience_queryset
from audiences.selectors_telegram import TelegramTargets, telegram_chats_targeted
from campaigns.content import content_for
from campaigns.models import Campaign, CampaignContent, CampaignRun, RunChannelStats, SendMode
from channels.models import ChannelConfig
from channels.selectors import channel_config_for
from tenants.models import CHANNEL_LABELS


def campaign_contacts(campaign: Campaign) -> QuerySet[Contact]:
    """Everyone the campaign's audience selects (before consent and addresses are applied)."""
    return audience_queryset(
        tenant_id=campaign.tenant_id, everyone=campaign.audience_everyone,
        segments=campaign.segments.all(), lists=campaign.lists.all(), tags=campaign.tags.all(),
    )


def campaign_telegram_targets(campaign: Campaign) -> TelegramTargets:
    """Where the campaign's Telegram message goes (the content's data["targets"])."""
    content = next((c for c in campaign.contents.all() if c.channel == "telegram"), None)
    return TelegramTargets.from_data(content.data.get("targets") if content else None)


def campaign_has_audience(campaign: Campaign) -> bool:
    return campaign.audience_everyone or campaign.segments.exists() or campaign.lists.exists() or campaign.tags.exists()


def campaign_channel_config(campaign: Campaign, channel: str, content: CampaignContent | None = None) -> ChannelConfig | None:
    """The config a channel sends through: the content's own choice if enabled, else the tenant default."""
    if content is None:
        content = campaign.contents.filter(channel=channel).select_related("channel_config").first()
    if content is not None and content.channel_config is not None and content.channel_config.enabled:
        return content.channel_config
    return channel_config_for(tenant=campaign.tenant, channel=channel)


def campaign_readiness_errors(campaign: Campaign, *, now: dt.datetime | None = None) -> list[str]:
    """What stops a launch, in words a marketer can act on (empty when ready)."""
    from campaigns.models import MessageTemplate, TemplateStatus

    now = now or timezone.now()
    problems: list[str] = []
    if not campaign.tenant.campaigns_enabled:
        problems.append("Campaigns are switched off for this workspace.")
    if not campaign.channels:
        problems.append("Choose at least one channel.")
    contents = {c.channel: c for c in campaign.contents.select_related("channel_config")}
    for channel in campaign.channels:
        label = CHANNEL_LABELS.get(channel, channel)
        if not campaign.tenant.channel_enabled(channel):
            problems.append(f"{label} is switched off for this workspace.")
            continue
        content = contents.get(channel)
        typed = content_for(channel, content.data if content else {})
        if content is None or typed.required_errors() or typed.errors():
            problems.append(f"{label} content is incomplete or has errors.")
        if campaign_channel_config(campaign, channel, content) is None:
            problems.append(f"{label} has no enabled channel configuration.")
        if channel == "whatsapp" and content is not None and content.data.get("mode", "template") == "template":
            template_id = content.data.get("template_id")
            approved = template_id and MessageTemplate.objects.filter(
                tenant_id=campaign.tenant_id, pk=template_id, status=TemplateStatus.APPROVED).exists()
            if not approved:
                problems.append("The WhatsApp template is not approved.")
    if "telegram" in campaign.channels and campaign.tenant.channel_enabled("telegram"):
        targets = campaign_telegram_targets(campaign)
        if targets.empty:
            problems.append("Choose who receives the Telegram message: subscribers, a group or a channel.")
        elif targets.chat_ids and targets.subscribers == "none" and not telegram_chats_targeted(
                tenant_id=campaign.tenant_id, chat_ids=targets.chat_ids).exists():
            problems.append("The bot is no longer in any of the ticked Telegram groups or channels.")
    if channel_needs_audience(campaign) and not campaign_has_audience(campaign):
        problems.append("Choose an audience: everyone, segments, lists or tags.")
    if campaign.send_mode == SendMode.SCHEDULED:
        if campaign.scheduled_at is None:
            problems.append("Choose a date and time to send.")
        elif campaign.scheduled_at <= now:
            problems.append("The scheduled time is in the past.")
    return problems


def channel_needs_audience(campaign: Campaign, telegram: TelegramTargets | None = None) -> bool:
    """Whether any channel reads the contact audience. Social posts go to connected accounts, not
    contacts; Telegram only when it direct-messages the audience's subscribers (not when it goes
    to all subscribers, or only to groups and channels). `telegram`: targets being edited, else
    the saved ones."""
    for channel in campaign.channels:
        if channel == "social":
            continue
        if channel == "telegram" and not (telegram or campaign_telegram_targets(campaign)).needs_audience:
            continue
        return True
    return False


@dataclass
class ChannelProgress:
    channel: str
    label: str
    targeted: int = 0
    skipped: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    clicked: int = 0
    replied: int = 0
    failed: int = 0
    cancelled: int = 0
    cost: float = 0

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.cancelled

    @property
    def percent(self) -> int:
        return 100 if not self.targeted else min(100, int(100 * self.done / self.targeted))


@dataclass
class CampaignProgress:
    run: CampaignRun | None
    channels: list[ChannelProgress] = field(default_factory=list)

    @property
    def targeted(self) -> int:
        return sum(c.targeted for c in self.channels)

    @property
    def done(self) -> int:
        return sum(c.done for c in self.channels)

    @property
    def percent(self) -> int:
        return 100 if not self.targeted else min(100, int(100 * self.done / self.targeted))

    @property
    def finished(self) -> bool:
        return self.run is not None and self.run.status in CampaignRun.FINAL


def campaign_progress(campaign: Campaign, run: CampaignRun | None = None) -> CampaignProgress:
    """Counters of the latest (or given) run per channel; reads RunChannelStats, never counts deliveries."""
    if run is None:
        run = campaign.runs.filter(is_test=False).order_by("-occurrence_at").first()
    progress = CampaignProgress(run=run)
    if run is None:
        return progress
    rows = {s.channel: s for s in RunChannelStats.objects.filter(run=run)}
    for channel in campaign.channels:
        stats = rows.get(channel)
        item = ChannelProgress(channel=channel, label=CHANNEL_LABELS.get(channel, channel))
        if stats is not None:
            for name in RunChannelStats.COUNTERS:
                setattr(item, name, getattr(stats, name))
            item.cost = float(stats.cost)
        progress.channels.append(item)
    return progress


def campaign_totals(campaign: Campaign) -> dict[str, int]:
    """Counters summed over every run of the campaign (the grid's sent / target)."""
    sums = RunChannelStats.objects.filter(campaign=campaign).aggregate(
        **{name: Sum(name) for name in RunChannelStats.COUNTERS}, cost=Sum("cost"))
    return {k: (v or 0) for k, v in sums.items()}
