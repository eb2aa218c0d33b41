"""System admin views of audiences: cross-tenant (TenantMiddleware disables scopes under /admin/),
superusers only (see tenants/admin.py).

Consent columns and history are read-only here: a change must go through audiences.services so
the current state and its ConsentEvent never disagree, and the history stays append-only. Tag and
list pickers are left out of forms because they would offer every tenant's tags.
"""

from __future__ import annotations

from django.contrib import admin

from audiences.models import (
    CONSENT_CHANNELS,
    ConsentEvent,
    Contact,
    ContactList,
    ImportJob,
    ImportRejection,
    PushSubscription,
    Segment,
    Suppression,
    Tag,
    TelegramChat,
    TelegramDirectMessage,
    TelegramGroupRemoval,
    TelegramSubscriber,
)

CONSENT_FIELDS = [f"consent_{channel}" for channel in CONSENT_CHANNELS]


class ConsentEventInline(admin.TabularInline):
    model = ConsentEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "channel", "previous_state", "state", "source", "actor", "evidence"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "email", "phone", "role", "city", "consent_email", "consent_sms",
                    "created_at"]
    list_filter = ["tenant", "role", *CONSENT_FIELDS]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_select_related = ["tenant"]
    show_full_result_count = False  # no COUNT(*) over every tenant's contacts per page
    fieldsets = [
        (None, {"fields": ["tenant", "first_name", "last_name", "email", "phone", "role", "city", "pincode"]}),
        ("More", {"fields": ["timezone", "locale", "attributes", "last_active_at", "telegram_chat_id",
                             "telegram_username", "created_at", "updated_at"]}),
        ("Consent (change it from the workspace's contact page, which records history)", {"fields": CONSENT_FIELDS}),
    ]
    # Addresses are normalized with the tenant's phone region and unique per tenant: the
    # workspace's contact form does both, so they are not edited here.
    readonly_fields = ["tenant", "email", "phone", *CONSENT_FIELDS, "created_at", "updated_at"]
    inlines = [ConsentEventInline]

    def has_add_permission(self, request) -> bool:
        return False  # contacts belong to a workspace: add them there, where the tenant is known


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "contact", "channel", "previous_state", "state", "source", "actor"]
    list_filter = ["channel", "state", "source", "tenant"]
    search_fields = ["contact__email", "contact__phone"]
    list_select_related = ["tenant", "contact", "actor"]
    show_full_result_count = False
    readonly_fields = ["tenant", "contact", "channel", "previous_state", "state", "source", "evidence", "actor",
                       "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # append-only: history goes only with its contact


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "tenant", "source", "reason", "created_at"]
    list_filter = ["kind", "source", "tenant"]
    search_fields = ["value", "reason"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "kind", "value", "source", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # values must be normalized with the tenant's region: add them in the workspace


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "contact", "user_agent", "created_at", "last_success_at"]
    list_filter = ["tenant"]
    search_fields = ["endpoint", "contact__email"]
    list_select_related = ["tenant", "contact"]
    readonly_fields = ["tenant", "contact", "endpoint", "p256dh", "auth", "user_agent", "created_at",
                       "last_success_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    list_select_related = ["tenant"]
    fields = ["tenant", "name", "description", "created_at"]
    readonly_fields = ["tenant", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "created_by", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    list_select_related = ["tenant", "created_by"]
    readonly_fields = ["tenant", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


class ImportRejectionInline(admin.TabularInline):
    model = ImportRejection
    extra = 0
    can_delete = False
    fields = ["row_number", "reason", "raw"]
    readonly_fields = fields
    max_num = 0


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "tenant", "status", "total_rows", "created_count", "updated_count",
                    "rejected_count", "created_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["original_name"]
    list_select_related = ["tenant"]
    exclude = ["add_tags"]
    readonly_fields = [f.name for f in ImportJob._meta.concrete_fields if f.name != "id"]
    inlines = [ImportRejectionInline]

    def has_add_permission(self, request) -> bool:
        return False


# --- Telegram ------------------------------------------------------------------------------------
# Learnt from the bot's updates and kept current by its services (audiences.telegram): ids, status
# and counts are read-only here, and rows are not added by hand (a chat only exists once Telegram
# says the bot is in it). Blocking and unblocking go through the workspace's subscribers page,
# which records consent history.

@admin.register(TelegramChat)
class TelegramChatAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "type", "bot_status", "member_count", "last_post_at", "chat_id",
                    "migrated_from_chat_id"]
    list_filter = ["type", "bot_status", "tenant"]
    search_fields = ["title", "username", "=chat_id", "=migrated_from_chat_id"]
    list_select_related = ["tenant", "channel_config"]
    fields = ["tenant", "channel_config", "title", "username", "type", "chat_id", "migrated_from_chat_id",
              "bot_status", "member_count", "member_count_at", "last_post_at", "created_at", "updated_at"]
    readonly_fields = ["tenant", "channel_config", "type", "chat_id", "migrated_from_chat_id", "bot_status",
                       "member_count", "member_count_at", "last_post_at", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TelegramSubscriber)
class TelegramSubscriberAdmin(admin.ModelAdmin):
    list_display = ["contact", "tenant", "chat_id", "username", "joined_at", "start_payload", "blocked_at"]
    list_filter = ["tenant", ("blocked_at", admin.EmptyFieldListFilter)]
    search_fields = ["=chat_id", "contact__telegram_username", "contact__first_name", "contact__last_name"]
    list_select_related = ["tenant", "contact"]
    show_full_result_count = False
    readonly_fields = ["tenant", "contact", "chat_id", "joined_at", "start_payload", "blocked_at", "created_at"]

    @admin.display(description="Username", ordering="contact__telegram_username")
    def username(self, obj: TelegramSubscriber) -> str:
        return f"@{obj.contact.telegram_username}" if obj.contact.telegram_username else ""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # every field is the bot's record; block / unblock from the workspace


@admin.register(TelegramDirectMessage)
class TelegramDirectMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "contact", "chat_id", "status", "sent_by"]
    list_filter = ["status", "tenant"]
    search_fields = ["=chat_id", "text", "contact__telegram_username"]
    list_select_related = ["tenant", "contact", "sent_by"]
    show_full_result_count = False
    readonly_fields = ["tenant", "contact", "chat_id", "text", "status", "provider_message_id", "error_message",
                       "sent_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what was sent


@admin.register(TelegramGroupRemoval)
class TelegramGroupRemovalAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "chat", "user_id", "status", "removed_by"]
    list_filter = ["status", "tenant"]
    search_fields = ["=user_id", "chat__title", "message"]
    list_select_related = ["tenant", "chat", "removed_by"]
    show_full_result_count = False
    readonly_fields = ["tenant", "chat", "subscriber", "user_id", "status", "message", "removed_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what Telegram answered
