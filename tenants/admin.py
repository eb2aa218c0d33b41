"""Django admin for system administrators: cross-tenant by design, superusers only."""

from __future__ import annotations

from django.contrib import admin

from tenants.models import ApiKey, Membership, Tenant


def _superuser_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser

# Staff who are not superusers have no business seeing every tenant's data.
admin.site.has_permission = _superuser_only
admin.site.site_header = "Campaign platform administration"
admin.site.site_title = "Campaign platform admin"

class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]

@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "currency", "is_active", "campaigns_enabled", "ai_enabled", "created_at"]
    list_filter = ["is_active", "campaigns_enabled", "ai_enabled", "sms_enabled", "whatsapp_enabled", "email_enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        ("Locale", {"fields": ["timezone", "default_phone_region", "currency", "default_send_hour"]}),
        (
            "Feature flags",
            {
                "fields": [
                    "campaigns_enabled",
                    ("email_enabled", "push_enabled", "sms_enabled", "whatsapp_enabled"),
                    ("telegram_enabled", "voice_enabled", "social_enabled"),
                    "ai_enabled",
                ],
                "description": "Turning campaigns off hides campaign pages and stops workers sending for this tenant.",
            },
        ),
    ]

@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    list_select_related = ["user", "tenant"]

    def has_add_permission(self, request) -> bool:
        return False  # add memberships from the tenant page, where the tenant is set

@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "tenant", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "prefix", "tenant__name"]
    fields = ["name", "prefix", "tenant", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # keys are created by tenant admins, who see the secret once
