"""System admin views of channel configs and the sandbox outbox: read-mostly, never a secret.

The encrypted column is excluded everywhere (list, form, search, history); tenant admins manage
credentials from the Channels page, where secrets are write-only.
"""

from __future__ import annotations

from django.contrib import admin

from channels.models import ChannelConfig, OutboxMessage, ProcessedWebhookEvent


@admin.register(ChannelConfig)
class ChannelConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "channel", "provider", "enabled", "is_default", "rate_per_second",
                    "unit_cost", "last_test_ok", "last_test_at"]
    list_filter = ["channel", "provider", "enabled", "last_test_ok", "tenant"]
    search_fields = ["name", "tenant__name", "provider"]
    list_select_related = ["tenant"]
    fields = ["name", "tenant", "channel", "provider", "settings", "rate_per_second", "unit_cost", "enabled",
              "is_default", "stored_secrets", "last_test_at", "last_test_ok", "last_test_message", "created_at",
              "updated_at"]
    readonly_fields = ["tenant", "channel", "provider", "stored_secrets", "last_test_at", "last_test_ok",
                       "last_test_message", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False  # configs are created by tenant admins, with the provider's form

    @admin.display(description="Stored secrets")
    def stored_secrets(self, obj: ChannelConfig) -> str:
        # Names only: which credentials are set, never their values or their last characters.
        names = sorted(obj.secret_hints())
        return ", ".join(names) if names else "none"


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "channel", "to", "subject"]
    list_filter = ["channel", "tenant"]
    search_fields = ["to", "subject", "provider_message_id"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "config", "channel", "to", "subject", "text", "html", "media_urls", "message_id",
                       "provider_message_id", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProcessedWebhookEvent)
class ProcessedWebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "tenant", "config", "event_id"]
    list_filter = ["tenant"]
    search_fields = ["event_id"]
    list_select_related = ["tenant", "config"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
