from campaigns.models.autoreply import (
    AutoReply,
    AutoReplySettings,
    AutoReplySource,
    AutoReplyStatus,
    ResponseTrigger,
    TriggerKind,
)
from campaigns.models.campaign import (
    CHANNEL_CHOICES,
    WHATSAPP_MAX_BROADCAST_LIST,
    AiTrainingStatus,
    CallingHoursMode,
    Campaign,
    CampaignContent,
    CampaignMedia,
    CampaignPurpose,
    CampaignStatus,
    CampaignType,
    ChannelBudget,
    Recurrence,
    SendMode,
)
from campaigns.models.delivery import (
    ACCEPTED_STATUSES,
    FINAL_STATUSES,
    STATUS_RANK,
    CampaignRun,
    DailyChannelStats,
    Delivery,
    DeliveryStatus,
    RunChannelStats,
    RunStatus,
    SkipReason,
)
from campaigns.models.engagement import ContactSendTime
from campaigns.models.template import MessageTemplate, TemplateCategory, TemplateStatus

__all__ = [
    "ACCEPTED_STATUSES", "CHANNEL_CHOICES", "FINAL_STATUSES", "STATUS_RANK", "WHATSAPP_MAX_BROADCAST_LIST",
    "AiTrainingStatus", "CallingHoursMode", "Campaign", "CampaignContent", "CampaignMedia", "CampaignPurpose",
    "CampaignRun", "CampaignStatus", "ContactSendTime", "CampaignType", "ChannelBudget", "DailyChannelStats", "Delivery",
    "DeliveryStatus", "MessageTemplate", "Recurrence", "RunChannelStats", "RunStatus", "SendMode", "SkipReason",
    "TemplateCategory", "TemplateStatus",
    "AutoReply", "AutoReplySettings", "AutoReplySource", "AutoReplyStatus", "ResponseTrigger", "TriggerKind",
]
