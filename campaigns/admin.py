"""System admin views of campaigns, templates and runs: for support and inspection. Deliveries and
counters are read-only here (the engine owns them); campaign status changes go through the app."""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignRun,
    MessageTemplate,
    RunChannelStats,
)


class CampaignContentInline(admin.TabularInline):
    model = CampaignContent
    extra = 0
    fields = ["channel", "channel_config", "data"]
    readonly_fields = ["channel", "channel_config"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "type", "status", "starred", "scheduled_at", "created_at", "archived_at"]
    list_filter = ["status", "type", "purpose", "tenant"]
    search_fields = ["name", "tenant__name"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    inlines = [CampaignContentInline]
    # Status moves only through campaigns.lifecycle (its conditional UPDATE keeps races out).
    readonly_fields = ["tenant", "status", "version", "next_run_at", "created_by", "created_at", "updated_at",
                       "archived_at"]
    filter_horizontal = ["segments", "lists", "tags"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "tenant", "category", "status", "submitted_at", "status_checked_at"]
    list_filter = ["status", "category", "language", "tenant"]
    search_fields = ["name", "body", "tenant__name"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "provider_template_id", "submitted_at", "status_checked_at", "created_at",
                       "updated_at"]


class RunChannelStatsInline(admin.TabularInline):
    model = RunChannelStats
    extra = 0
    can_delete = False
    fields = ["channel", *RunChannelStats.COUNTERS, "cost"]
    readonly_fields = fields


@admin.register(CampaignRun)
class CampaignRunAdmin(admin.ModelAdmin):
    list_display = ["campaign", "tenant", "occurrence_at", "status", "is_test", "target_count", "finished_at"]
    list_filter = ["status", "is_test", "tenant"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign", "tenant"]
    inlines = [RunChannelStatsInline]
    readonly_fields = ["tenant", "campaign", "occurrence_at", "status", "is_test", "target_count", "created_at",
                       "fanned_out_at", "finished_at"]

    def has_add_permission(self, request) -> bool:
        return False
