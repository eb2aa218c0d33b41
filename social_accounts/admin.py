"""System admin view of social accounts: status and expiry, never the credentials."""

from __future__ import annotations

from django.contrib import admin

from social_accounts.models import SocialAccount


@admin.register(SocialAccount)
class SocialAccountAdmin(admin.ModelAdmin):
    list_display = ["handle", "platform", "tenant", "status", "token_expires_at", "expiring_soon", "last_checked_at"]
    list_filter = ["platform", "status", "expiring_soon", "tenant"]
    search_fields = ["handle", "account_id", "tenant__name"]
    list_select_related = ["tenant"]
    fields = ["tenant", "platform", "handle", "account_id", "token_expires_at", "status", "status_message",
              "last_checked_at", "expiring_soon", "has_credentials", "created_at", "updated_at"]
    readonly_fields = ["tenant", "platform", "status", "status_message", "last_checked_at", "expiring_soon",
                       "has_credentials", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description="Credentials stored")
    def has_credentials(self, obj: SocialAccount) -> bool:
        return bool(obj.secrets_ciphertext)
