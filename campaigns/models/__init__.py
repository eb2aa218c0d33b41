from campaigns.models.autoreply import (
    AutoReply,
    AutoReplySettings,
    AutoReplySource,
    AutoReplyStatus,
    ResponseTrigger,
    ResponseTriggerKind,
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
from campaigns.models.journey import (
    CREATED_DATE,
    ENGAGEMENT_CONDITIONS,
    LIVE_STATES,
    MAX_STEPS,
    STEP_STRIDE,
    CampaignTrigger,
    ConditionKind,
    ContactEvent,
    EntryFrequency,
    ExitReason,
    Journey,
    JourneyState,
    StepKind,
    TriggerKind,
    TriggerMembership,
    WaitMode,
    WorkflowStep,
    delivery_step,
    step_number_of,
)
from campaigns.models.template import MessageTemplate, TemplateCategory, TemplateStatus

__all__ = [
    "ACCEPTED_STATUSES", "CHANNEL_CHOICES", "FINAL_STATUSES", "STATUS_RANK", "WHATSAPP_MAX_BROADCAST_LIST",
    "AiTrainingStatus", "CallingHoursMode", "Campaign", "CampaignContent", "CampaignMedia", "CampaignPurpose",
    "CampaignRun", "CampaignStatus", "ContactSendTime", "CampaignType", "ChannelBudget", "DailyChannelStats", "Delivery",
    "DeliveryStatus", "MessageTemplate", "Recurrence", "RunChannelStats", "RunStatus", "SendMode", "SkipReason",
    "TemplateCategory", "TemplateStatus",
    # journeys
    "CREATED_DATE", "ENGAGEMENT_CONDITIONS", "LIVE_STATES", "MAX_STEPS", "STEP_STRIDE", "CampaignTrigger", "ConditionKind",
    "ContactEvent", "EntryFrequency", "ExitReason", "Journey", "JourneyState", "StepKind", "TriggerKind",
    "TriggerMembership", "WaitMode", "WorkflowStep", "delivery_step", "step_number_of",
    # auto-replies
    "AutoReply", "AutoReplySettings", "AutoReplySource", "AutoReplyStatus", "ResponseTrigger", "ResponseTriggerKind",
]
