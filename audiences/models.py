"""Who a tenant can reach: contacts, their consent, tags, lists, segments, imports.

Consent's current state lives in one column per channel on Contact (`consent_<channel>`), so a
segment, an audience preview and the delivery engine's fan-out all filter one table; every change
also appends a ConsentEvent, which is the history and never changes. Every write goes through
`audiences.services` so that the two never disagree.
"""

from __future__ import annotations

import functools
import operator
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Lower, Upper

from tenants.models import Tenant, TenantOwnedModel, validate_timezone

# Channels that carry per-contact consent. Social posts go to followers, not contacts.
CONSENT_CHANNELS = ("email", "push", "sms", "whatsapp", "telegram", "voice")

# Channels where the law in most markets (TCPA, TRAI, WhatsApp's own policy) wants an explicit
# opt-in; the others may message a contact whose state is unknown, never one who opted out.
OPT_IN_REQUIRED = frozenset({"sms", "whatsapp", "voice"})


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class ConsentSource(models.TextChoices):
    IMPORT = "import", "Import"
    FORM = "form", "Form"
    KEYWORD = "keyword", "Keyword (STOP / START)"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
    ADMIN = "admin", "Admin"
    API = "api", "API"
    PROVIDER = "provider", "Provider report"


class ContactRole(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"


def consent_field(channel: str) -> str:
    if channel not in CONSENT_CHANNELS:
        raise ValueError(f"No consent for channel {channel!r}")
    return f"consent_{channel}"


# The address column each channel sends to (push sends to subscriptions, a table of their own).
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "whatsapp": "phone", "voice": "phone", "telegram": "telegram_chat_id"}

# Bits of Contact.reach, one per channel.
REACH_BITS = {"email": 1, "push": 2, "sms": 4, "whatsapp": 8, "telegram": 16, "voice": 32}
# Bits of Contact.suppressed: the channels a suppressed email address / phone number closes.
SUPPRESSED_BITS = {"email": REACH_BITS["email"],
                   "phone": REACH_BITS["sms"] | REACH_BITS["whatsapp"] | REACH_BITS["voice"]}


def consent_allows_q(channel: str) -> Q:
    """Consent lets this channel message the contact (the consent part of selectors.reachable_q)."""
    field = consent_field(channel)
    if channel in OPT_IN_REQUIRED:
        return Q(**{field: ConsentState.OPTED_IN})
    return ~Q(**{field: ConsentState.OPTED_OUT})


def contact_reach_q(channel: str) -> Q:
    """The part of selectors.reachable_q that reads only the contact's own row: the address column
    is filled (push: has_push, kept by database triggers) and consent allows it."""
    if channel in ADDRESS_FIELDS:
        return ~Q(**{ADDRESS_FIELDS[channel]: ""}) & consent_allows_q(channel)
    return Q(has_push=True) & consent_allows_q(channel)


def _reach_expression():
    terms = [Case(When(contact_reach_q(channel), then=Value(bit)), default=Value(0))
             for channel, bit in REACH_BITS.items()]
    return functools.reduce(operator.add, terms)


def _consent_column() -> models.CharField:
    return models.CharField(max_length=10, choices=ConsentState.choices, default=ConsentState.UNKNOWN)


class Tag(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), "tenant", name="tag_unique_name_ci")]

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwnedModel):
    # Every index of contacts leads with the tenant already: a tenant_id index of its own would
    # only slow down writes (a million-row import updates each index once per row).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False)
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    # Stored lower-cased and stripped (services.email_normalize), so uniqueness is a plain index.
    email = models.CharField(max_length=254, blank=True, default="")
    # E.164 (services.phone_normalize), parsed with the tenant's default region.
    phone = models.CharField(max_length=20, blank=True, default="")
    role = models.CharField(max_length=10, choices=ContactRole.choices, default=ContactRole.CUSTOMER)
    city = models.CharField(max_length=80, blank=True)
    # UPPER(city), computed and stored by the database: city rules compare it instead of
    # upper-casing each contact's city on every scan (about 150 ns a row under a UTF-8 locale, half
    # of the preview's time for a city inside an OR group at a million contacts).
    city_key = models.GeneratedField(expression=Upper("city"), output_field=models.CharField(max_length=80),
                                     db_persist=True)
    pincode = models.CharField(max_length=12, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    attributes = models.JSONField(default=dict, blank=True)
    # Blank means the tenant's time zone (see tz_name).
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    locale = models.CharField(max_length=16, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    telegram_chat_id = models.CharField(max_length=32, blank=True)
    telegram_username = models.CharField(max_length=64, blank=True)
    # When the contact last wrote to us on WhatsApp (set by the inbound webhook receivers). A
    # session message (free text, not an approved template) may only be sent within 24 hours of it.
    whatsapp_last_inbound_at = models.DateTimeField(null=True, blank=True)

    consent_email = _consent_column()
    consent_push = _consent_column()
    consent_sms = _consent_column()
    consent_whatsapp = _consent_column()
    consent_telegram = _consent_column()
    consent_voice = _consent_column()

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Whether the contact has a web push subscription. Written only by database triggers on
    # audiences_pushsubscription (migration 0008), whoever inserts, moves or deletes a
    # subscription; save() never writes it back (see below).
    has_push = models.BooleanField(db_default=False, editable=False)  # a DB default: raw INSERTs (import) omit it
    # REACH_BITS of the channels whose address and consent allow a message, computed by the
    # database from the columns above on every write (a stored generated column: no code path can
    # forget it). The suppression list lives in another table and is not in it (see `suppressed`):
    # selectors.reachable_q stays the definition; the preview counts `reach & ~suppressed` (tests
    # check the result against reachable_q).
    reach = models.GeneratedField(expression=_reach_expression(), output_field=models.SmallIntegerField(),
                                  db_persist=True)
    # SUPPRESSED_BITS of the contact's addresses that are on the tenant's suppression list (email:
    # the email bit; phone: sms, whatsapp and voice). Written only by database triggers (migration
    # 0011) on suppressions and on contacts' email / phone, like has_push; the preview counts
    # `reach & ~suppressed` in one GROUP BY. reachable_q stays the definition (tests compare).
    suppressed = models.SmallIntegerField(db_default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], condition=~Q(email=""), name="contact_unique_email"),
            models.UniqueConstraint(fields=["tenant", "phone"], condition=~Q(phone=""), name="contact_unique_phone"),
        ]
        indexes = [
            # Keyset pagination of the grid, newest first.
            models.Index(fields=["tenant", "-created_at", "-id"], name="contact_keyset"),
            # Segments and the grid match cities case-insensitively (city_key = UPPER(%s)).
            models.Index(fields=["tenant", "city_key"], name="contact_city_key"),
            # Pattern ops serve both "pincode in" and "starts with" (LIKE '411%') whatever the
            # database collation; a plain btree only serves LIKE under the C collation.
            models.Index(fields=["tenant", "pincode"], opclasses=["int8_ops", "varchar_pattern_ops"],
                         name="contact_pincode_prefix"),
            models.Index(fields=["tenant", "last_active_at"], name="contact_last_active"),
            # "Who is inside WhatsApp's 24-hour window": a few contacts out of many, so partial.
            models.Index(fields=["tenant", "whatsapp_last_inbound_at"], name="contact_wa_inbound",
                         condition=Q(whatsapp_last_inbound_at__isnull=False)),
            # "Everyone"'s per-channel counts: one index-only scan grouped by reach and suppressed.
            models.Index(fields=["tenant", "reach", "suppressed"], name="contact_reach_suppressed"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or str(self.pk)

    def save(self, *args, **kwargs):
        # has_push and suppressed belong to the triggers: an update never writes back a value read
        # before a subscription or a suppression came or went.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields if not f.primary_key
                                       and not f.generated and f.name not in ("has_push", "suppressed")]
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def tz_name(self, tenant=None) -> str:
        return self.timezone or (tenant or self.tenant).timezone

    def consent(self, channel: str) -> str:
        return getattr(self, consent_field(channel))

    def address_for(self, channel: str) -> str:
        """The address a channel sends to, or "" (push addresses are subscriptions, not a field)."""
        return {
            "email": self.email, "sms": self.phone, "whatsapp": self.phone, "voice": self.phone,
            "telegram": self.telegram_chat_id,
        }.get(channel, "")


class ConsentEvent(TenantOwnedModel):
    """Append-only consent history. Rows are never updated or deleted (except with their contact)."""

    # Indexed by consentevent_contact (contact, -created_at), which serves the foreign key too.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events", db_index=False)
    channel = models.CharField(max_length=10)
    state = models.CharField(max_length=10, choices=ConsentState.choices)
    previous_state = models.CharField(max_length=10, choices=ConsentState.choices)
    source = models.CharField(max_length=12, choices=ConsentSource.choices)
    evidence = models.JSONField(default=dict, blank=True)
    # Imports, unsubscribe links and keywords have no actor: index only the rows that have one
    # (what deleting a user needs), not a million NULLs per import.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "-created_at"], name="consentevent_contact"),
                   models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="consentevent_actor")]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel}: {self.previous_state} -> {self.state} ({self.source})"


class SuppressionKind(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"


class Suppression(TenantOwnedModel):
    """An address no channel may message, whoever it belongs to (bounces, complaints, legal)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=5, choices=SuppressionKind.choices)
    # Normalized the same way as Contact.email / Contact.phone.
    value = models.CharField(max_length=254)
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=12, choices=ConsentSource.choices, default=ConsentSource.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "value"], name="suppression_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class PushSubscription(TenantOwnedModel):
    """A browser's web push subscription, stored by the public subscribe endpoint."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "endpoint"], name="pushsubscription_unique_endpoint")]

    def __str__(self) -> str:
        return self.endpoint[:60]


class ContactList(TenantOwnedModel):
    """A static list: contacts are added and removed by hand, by import or in bulk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    contacts = models.ManyToManyField(Contact, blank=True, related_name="lists")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="contactlist_unique_name")]

    def __str__(self) -> str:
        return self.name


class Segment(TenantOwnedModel):
    """A saved rule tree (see audiences.segments for its grammar), evaluated at query time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    rules = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class ImportJob(TenantOwnedModel):
    """One uploaded CSV on its way in: uploaded -> mapped -> running -> completed (or failed)."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    FINAL = frozenset({Status.COMPLETED, Status.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list, blank=True)
    # {csv column: contact field or "attr:<name>" or "consent:<channel>" or "" to ignore}
    mapping = models.JSONField(default=dict, blank=True)
    match_on = models.CharField(max_length=5, default="email", choices=[("email", "Email"), ("phone", "Phone")])
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    add_to_list = models.ForeignKey(ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


class ImportRejection(TenantOwnedModel):
    """A row the import could not take, with its 1-based row number in the file and why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    row_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["row_number", "id"]


class ContactDeleteJob(TenantOwnedModel):
    """A bulk delete too large for one request ("everyone matching the filter"), run by a task.

    The selection is the grid's filter as the user confirmed it, limited to contacts that existed
    then (created_before), so a contact added while it runs is never swept up."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Deleting"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    FINAL = frozenset({Status.COMPLETED, Status.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    filter_query = models.TextField(blank=True)  # the grid's filter, urlencoded
    created_before = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Delete {self.total} contacts ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        return min(100, int(100 * self.deleted / self.total)) if self.total else 0


# --- Telegram: the bot's groups and channels, and the people who started it -----------------------
# Telegram's own words: a bot learns it was added to (or removed from) a chat only from the
# my_chat_member updates it receives; a user "subscribes" by sending /start to the bot.


class TelegramChat(TenantOwnedModel):
    """A group, supergroup or channel the bot of one Telegram config is (or was) in."""

    class Type(models.TextChoices):
        GROUP = "group", "Group"
        SUPERGROUP = "supergroup", "Supergroup"
        CHANNEL = "channel", "Channel"

    class BotStatus(models.TextChoices):
        MEMBER = "member", "Member"
        ADMINISTRATOR = "administrator", "Administrator"
        LEFT = "left", "Left"
        KICKED = "kicked", "Removed"

    # Where the bot can still post; the others are kept for history and hidden from targeting.
    ACTIVE = frozenset({BotStatus.MEMBER, BotStatus.ADMINISTRATOR})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel_config = models.ForeignKey("channels.ChannelConfig", on_delete=models.CASCADE, related_name="+")
    chat_id = models.BigIntegerField()
    # A basic group upgraded to a supergroup gets a new chat id; the row follows it and keeps the
    # old one, so campaigns that ticked the group before the upgrade still find it.
    migrated_from_chat_id = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=10, choices=Type.choices)
    title = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=64, blank=True)
    member_count = models.PositiveIntegerField(null=True, blank=True)  # None until first counted
    member_count_at = models.DateTimeField(null=True, blank=True)
    bot_status = models.CharField(max_length=13, choices=BotStatus.choices, default=BotStatus.MEMBER)
    # The last message the bot saw in the chat (in privacy mode a bot sees only commands and
    # replies to it, so this is a floor, not an exact figure).
    last_post_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "chat_id"]
        constraints = [models.UniqueConstraint(fields=["channel_config", "chat_id"], name="telegramchat_unique_chat")]
        indexes = [models.Index(fields=["tenant", "bot_status"], name="telegramchat_status")]

    def __str__(self) -> str:
        return self.title or str(self.chat_id)

    @property
    def is_active(self) -> bool:
        return self.bot_status in self.ACTIVE


class TelegramSubscriber(TenantOwnedModel):
    """Someone who started the bot: their contact, when they joined, and whether we blocked them.

    The chat id lives here too, so a blocked subscriber stays recognisable after blocking cleared
    it from the contact (which is what keeps fan-out and STOP/START keywords away from them)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="telegram_subscriber")
    chat_id = models.CharField(max_length=32)
    joined_at = models.DateTimeField()
    start_payload = models.CharField(max_length=64, blank=True)  # the deep link's "/start <payload>"
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)  # keyset pagination of the subscribers page

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "chat_id"], name="telegramsubscriber_unique_chat")]

    def __str__(self) -> str:
        return f"{self.contact} ({self.chat_id})"


class TelegramGroupRemoval(TenantOwnedModel):
    """A subscriber the marketer had the bot remove from one of its groups, and what Telegram said.

    Written as "removing" before the Bot API calls and given its outcome after, so a crash in
    between leaves a trace rather than nothing."""

    class Status(models.TextChoices):
        REMOVING = "removing", "Removing"
        REMOVED = "removed", "Removed"
        NOT_MEMBER = "not_member", "Not a member"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(TelegramChat, on_delete=models.CASCADE, related_name="removals")
    subscriber = models.ForeignKey(TelegramSubscriber, null=True, on_delete=models.SET_NULL, related_name="removals")
    user_id = models.CharField(max_length=32)  # the person's Telegram user id (their private chat id)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REMOVING)
    message = models.CharField(max_length=500, blank=True)  # why it failed, or a caveat when it worked
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="tgremoval_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} from {self.chat_id}: {self.status}"


class TelegramDirectMessage(TenantOwnedModel):
    """A one-off message a marketer sent a subscriber from the subscribers page (not a campaign)."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contact = models.ForeignKey(Contact, null=True, on_delete=models.SET_NULL, related_name="telegram_messages")
    chat_id = models.CharField(max_length=32)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    provider_message_id = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.chat_id}: {self.text[:40]}"
