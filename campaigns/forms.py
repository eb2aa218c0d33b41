"""Forms of the campaign wizard, one per step (Content has one per channel).

Forms only clean input; campaigns.services_wizard writes it. Channel content is validated by the
typed classes of campaigns.content, so a template syntax error shows next to its field here and
can never surface at send time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from dateutil import rrule
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from audiences.models import ContactList, Segment, Tag
from audiences.selectors_telegram import (
    SUBSCRIBER_MODES,
    SUBSCRIBERS_NONE,
    TelegramTargets,
    telegram_chats,
)
from campaigns.content import (
    EMAIL_SUBJECT_LIMIT,
    PUSH_BODY_LIMIT,
    PUSH_TITLE_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    content_for,
)
from campaigns.media import (
    ACCEPT_ATTR,
    AUDIO_ACCEPT_ATTR,
    AUDIO_ACCEPTED_LABEL,
    MediaRejected,
    media_validate,
)
from campaigns.models import (
    WHATSAPP_MAX_BROADCAST_LIST,
    CallingHoursMode,
    Campaign,
    CampaignContent,
    CampaignMedia,
    CampaignPurpose,
    CampaignType,
    MessageTemplate,
    Recurrence,
    SendMode,
    TemplateStatus,
)
from campaigns.selectors import channel_needs_audience
from channels.models import ChannelConfig
from tenants.models import CHANNEL_LABELS, Tenant

CSV_MAX_BYTES = 20 * 1024 * 1024


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


# --- General -------------------------------------------------------------------------------------

class GeneralForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose at least one channel."},
        help_text="Only channels switched on for this workspace are offered.",
    )

    class Meta:
        model = Campaign
        fields = ["name", "description", "type", "purpose", "channels", "starred", "notes"]
        labels = {"name": "Campaign name", "type": "Campaign type", "starred": "Star this campaign"}
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "e.g. Summer AC Service Reminder", "autofocus": True}),
            "description": forms.Textarea(attrs={"rows": 3, "placeholder": "What the campaign is for; the AI "
                                                 "generator writes from this."}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"notes": "Internal notes; never sent."}
        error_messages = {"name": {"required": "Give the campaign a name."}}

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = [(c, CHANNEL_LABELS[c]) for c in tenant.enabled_channels]
        self.fields["type"].choices = CampaignType.choices
        self.fields["purpose"].choices = CampaignPurpose.choices

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the campaign a name.")
        return name

    def clean_channels(self) -> list[str]:
        chosen = set(self.cleaned_data["channels"])
        # Kept in the product's channel order, whatever order the browser sent.
        return [key for key, _ in self.fields["channels"].choices if key in chosen]


# --- Content -------------------------------------------------------------------------------------

class ContentForm(forms.Form):
    """One channel's panel. Subclasses list their fields; names match the content class's attributes."""

    channel: str = ""
    text_fields: tuple[str, ...] = ()  # fields copied into data as they are
    media_field: str = ""  # the content attribute holding a CampaignMedia id, if the channel takes media
    media_audio: bool = False  # the media is a voice recording (MP3 / WAV), not an attachment
    media_label = "Attachment"
    media_upload_label = "Upload a new attachment"
    media_help = "JPG, PNG or GIF images (5 MB), MP4 video (16 MB), PDF or Word documents (16 MB)."
    media_accept = ACCEPT_ATTR

    channel_config = forms.ModelChoiceField(queryset=ChannelConfig.objects.none(), required=False,
                                            label="Send through")

    def __init__(self, *args, campaign: Campaign, content: CampaignContent | None, **kwargs) -> None:
        self.campaign = campaign
        self.content = content
        self.data_before: dict[str, Any] = dict(content.data) if content else {}
        kwargs.setdefault("prefix", self.channel)
        if not kwargs.get("data"):
            kwargs.setdefault("initial", self.initial_from(self.data_before, content))
        super().__init__(*args, **kwargs)
        configs = ChannelConfig.objects.filter(tenant_id=campaign.tenant_id, channel=self.channel, enabled=True)
        self.fields["channel_config"].queryset = configs
        self.fields["channel_config"].empty_label = "Workspace default"
        self.fields["channel_config"].help_text = (
            "Blank: the workspace's default configuration for this channel." if configs
            else "No enabled configuration yet: an admin adds one on the Channels page.")
        if self.media_field:
            media = CampaignMedia.objects.filter(campaign=campaign).order_by("-created_at")
            media = media.filter(kind=CampaignMedia.Kind.AUDIO) if self.media_audio else \
                media.exclude(kind=CampaignMedia.Kind.AUDIO)
            self.fields["media"] = forms.ChoiceField(
                required=False, label=self.media_label,
                choices=[("", f"No {self.media_label.lower()}")] + [
                    (str(m.pk), f"{m.original_name} ({m.get_kind_display()})") for m in media],
            )
            self.fields["media_upload"] = forms.FileField(
                required=False, label=self.media_upload_label, help_text=self.media_help,
                widget=forms.ClearableFileInput(attrs={"accept": self.media_accept}),
            )
            if not kwargs.get("data"):
                self.initial["media"] = self.data_before.get(self.media_field, "")

    def initial_from(self, data: dict[str, Any], content: CampaignContent | None) -> dict[str, Any]:
        initial = {name: data.get(name, "") for name in self.text_fields}
        initial["channel_config"] = content.channel_config_id if content else None
        return initial

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self.channel]

    def clean_media_upload(self):
        upload = self.cleaned_data.get("media_upload")
        if upload:
            try:
                media_validate(upload, audio=self.media_audio)
            except MediaRejected as exc:
                raise ValidationError(str(exc)) from None
        return upload

    def to_data(self) -> dict[str, Any]:
        """The content JSON from cleaned data (media uploads are stored by the service)."""
        data = {name: self.cleaned_data.get(name) for name in self.text_fields}
        if self.media_field:
            data[self.media_field] = self.cleaned_data.get("media") or ""
        return data

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data = self.to_data()
        if self.media_field and cleaned.get("media_upload"):
            # Stored only once the whole form is valid; validate as if it were attached.
            data[self.media_field] = "upload"
        problems = content_for(self.channel, data).errors()
        for name, messages in problems.items():
            target = name if name in self.fields else ("media" if name == self.media_field else None)
            for message in messages:
                self.add_error(target, message)
        return cleaned


def _text(label: str, *, limit: int | None = None, required: bool = False, rows: int | None = None,
          help_text: str = "", placeholder: str = "") -> forms.CharField:
    attrs: dict[str, Any] = {}
    if placeholder:
        attrs["placeholder"] = placeholder
    widget = forms.Textarea(attrs={"rows": rows, **attrs}) if rows else forms.TextInput(attrs=attrs)
    # Limits are enforced by the content classes (with a friendlier message), not maxlength.
    return forms.CharField(label=label, required=required, strip=False, widget=widget, help_text=help_text)


VARIABLES_HELP = 'Personalise with {{ first_name }}, {{ city }}, {{ custom.plan }}; add a fallback: {{ first_name | default: "there" }}.'


class EmailContentForm(ContentForm):
    channel = "email"
    text_fields = ("subject", "preheader", "html", "text")
    subject = _text("Subject", help_text=f"Up to {EMAIL_SUBJECT_LIMIT} characters. {VARIABLES_HELP}")
    preheader = _text("Preheader", help_text="The preview line inboxes show after the subject.")
    html = _text("HTML body", rows=10, help_text="Scripts and event handlers are removed in the preview.")
    text = _text("Plain-text part", rows=4, help_text="Leave blank to generate it from the HTML.")


class PushContentForm(ContentForm):
    channel = "push"
    text_fields = ("title", "body", "url", "icon")
    title = _text("Title", help_text=f"Up to {PUSH_TITLE_LIMIT} characters.")
    body = _text("Message", rows=3, help_text=f"Up to {PUSH_BODY_LIMIT} characters.")
    url = forms.URLField(label="Opens", required=False, assume_scheme="https",
                         help_text="The page a click on the notification opens.")
    icon = forms.URLField(label="Icon URL", required=False, assume_scheme="https")


class SmsContentForm(ContentForm):
    channel = "sms"
    text_fields = ("text",)
    text = _text("Message", rows=5, placeholder="Hi {{ first_name | default: \"there\" }}, ... Reply STOP to opt out",
                 help_text="160 GSM characters make one SMS; an emoji or curly quote halves that. " + VARIABLES_HELP)


class WhatsAppContentForm(ContentForm):
    channel = "whatsapp"
    text_fields = ("mode", "session_text")
    media_field = "media_id"
    mode = forms.ChoiceField(label="Message type", widget=forms.RadioSelect, choices=[
        ("template", "Approved template (can start a conversation)"),
        ("session", "Session message (only within 24 hours of the contact's last message)"),
    ])
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), required=False, label="Template",
                                      error_messages={"invalid_choice": "Choose an approved template."})
    variables = _text("Template variables", rows=3,
                      help_text="One line per variable, in order: line 1 fills {{1}}, line 2 fills {{2}}. "
                                "Contact variables work here too.")
    session_text = _text("Session message", rows=5)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only approved templates can be chosen: anything else is an invalid choice.
        self.fields["template"].queryset = MessageTemplate.objects.filter(
            tenant_id=self.campaign.tenant_id, status=TemplateStatus.APPROVED)
        self.fields["template"].empty_label = "Choose an approved template"

    def initial_from(self, data, content):
        initial = super().initial_from(data, content)
        initial["mode"] = data.get("mode") or "template"
        initial["template"] = data.get("template_id") or None
        initial["variables"] = "\n".join(data.get("variables") or [])
        return initial

    def to_data(self):
        data = super().to_data()
        template = self.cleaned_data.get("template")
        data["template_id"] = str(template.pk) if template else ""
        data["variables"] = [line.strip() for line in (self.cleaned_data.get("variables") or "").splitlines()]
        while data["variables"] and not data["variables"][-1]:
            data["variables"].pop()
        return data

    def clean(self):
        cleaned = super().clean()
        template = cleaned.get("template")
        if template is not None and cleaned.get("mode") == "template":
            given = len(self.to_data()["variables"])
            if given != template.variable_count:
                self.add_error("variables", f"“{template}” has {template.variable_count} variable(s); "
                                            f"you gave {given}.")
        return cleaned


class TelegramContentForm(ContentForm):
    channel = "telegram"
    text_fields = ("text", "parse_mode", "disable_preview", "silent", "pin")
    media_field = "media_id"
    text = _text("Message", rows=6, help_text=f"Up to {TELEGRAM_TEXT_LIMIT:,} characters (1,024 with media).")
    parse_mode = forms.ChoiceField(label="Formatting", required=False, choices=[
        ("HTML", "HTML (<b>, <i>, <a href>)"), ("MarkdownV2", "MarkdownV2"), ("", "Plain text")])
    buttons = _text("Inline buttons", rows=2, placeholder="Shop now | https://example.com/sale",
                    help_text="One per line: label | link.")
    disable_preview = forms.BooleanField(label="Disable link preview", required=False)
    silent = forms.BooleanField(label="Send silently (no sound)", required=False)
    pin = forms.BooleanField(label="Pin the message", required=False)

    def initial_from(self, data, content):
        initial = super().initial_from(data, content)
        initial["parse_mode"] = data.get("parse_mode", "HTML")
        initial["buttons"] = "\n".join(f"{b.get('text', '')} | {b.get('url', '')}" for b in data.get("buttons") or [])
        return initial

    def to_data(self):
        data = super().to_data()
        buttons = []
        for line in (self.cleaned_data.get("buttons") or "").splitlines():
            if line.strip():
                label, _, url = line.partition("|")
                buttons.append({"text": label.strip(), "url": url.strip()})
        data["buttons"] = buttons
        # Who it goes to is chosen on the Audience step; saving the text keeps it.
        if "targets" in self.data_before:
            data["targets"] = self.data_before["targets"]
        return data


class VoiceContentForm(ContentForm):
    channel = "voice"
    text_fields = ("caller_id", "queue", "max_concurrent", "max_retries", "retry_delay", "script", "amd_enabled",
                   "amd_action", "voicemail_text")
    media_field = "audio_media_id"
    media_audio = True
    media_label = "Recording"
    media_upload_label = "Upload a recording"
    media_help = f"{AUDIO_ACCEPTED_LABEL}. Played instead of the script when set."
    media_accept = AUDIO_ACCEPT_ATTR
    caller_id = _text("Caller ID", placeholder="+15555550100", help_text="Blank: the configuration's number.")
    queue = _text("Queue", help_text="The queue connected calls are routed through.")
    max_concurrent = forms.IntegerField(label="Max concurrent calls", initial=1)
    max_retries = forms.IntegerField(label="Max retries", initial=0)
    retry_delay = forms.IntegerField(label="Retry delay (seconds)", initial=60)
    script = _text("Script", rows=5, help_text="Read to the recipient by text-to-speech, unless a recording is set.")
    amd_enabled = forms.BooleanField(label="Answering machine detection", required=False)
    amd_action = forms.ChoiceField(label="When a machine answers", choices=[("hangup", "Hang up"),
                                                                             ("voicemail", "Leave a voicemail")])
    voicemail_text = _text("Voicemail", rows=3,
                           help_text="Left after the beep when a machine answers (up to 500 characters); "
                                     "blank: the script plays after the beep.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The recording sits beside the script it replaces.
        self.order_fields(["channel_config", "caller_id", "queue", "max_concurrent", "max_retries", "retry_delay",
                           "script", "media", "media_upload", "amd_enabled", "amd_action", "voicemail_text"])

    def initial_from(self, data, content):
        initial = super().initial_from(data, content)
        defaults = content_for("voice", data)
        for name in ("max_concurrent", "max_retries", "retry_delay", "amd_action"):
            initial[name] = getattr(defaults, name)
        return initial


class SocialContentForm(ContentForm):
    channel = "social"
    text_fields = ("text",)
    media_field = "media_id"
    text = _text("Post", rows=5, help_text="X allows 280 characters, Instagram 2,200, LinkedIn 3,000.")
    accounts = forms.MultipleChoiceField(label="Post to", required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs) -> None:
        from social_accounts.models import SocialAccount

        super().__init__(*args, **kwargs)
        accounts = SocialAccount.objects.filter(tenant_id=self.campaign.tenant_id).order_by("platform", "handle")
        self.fields["accounts"].choices = [
            (str(a.pk), f"{a} — {a.get_status_display()}") for a in accounts]
        self.fields["channel_config"].widget = forms.HiddenInput()

    def initial_from(self, data, content):
        initial = super().initial_from(data, content)
        initial["accounts"] = [str(a) for a in data.get("accounts") or []]
        return initial

    def to_data(self):
        data = super().to_data()
        # Per-account texts are kept; the wizard edits the default text.
        data["posts"] = dict(self.data_before.get("posts") or {})
        data["accounts"] = list(self.cleaned_data.get("accounts") or [])
        return data

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("accounts"):
            self.add_error("accounts", "Choose at least one connected account to post to.")
        return cleaned


CONTENT_FORMS: dict[str, type[ContentForm]] = {
    form.channel: form for form in (EmailContentForm, PushContentForm, SmsContentForm, WhatsAppContentForm,
                                    TelegramContentForm, VoiceContentForm, SocialContentForm)
}


# --- Audience ------------------------------------------------------------------------------------

class AudienceForm(forms.Form):
    target = forms.ChoiceField(label="Who receives it", widget=forms.RadioSelect, choices=[
        ("everyone", "All contacts"), ("choose", "Chosen segments, lists and tags")])
    segments = forms.ModelMultipleChoiceField(queryset=Segment.objects.none(), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    lists = forms.ModelMultipleChoiceField(queryset=ContactList.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple)
    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.none(), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    csv_file = forms.FileField(label="Upload a CSV", required=False,
                               widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
                               help_text="A header row with an email and/or phone column; name, city, tags and "
                                         "other columns are read too. It becomes a new list.")
    csv_list_name = forms.CharField(label="Name of the new list", required=False, max_length=120)

    def __init__(self, *args, campaign: Campaign, **kwargs) -> None:
        self.campaign = campaign
        self.telegram = "telegram" in campaign.channels
        if not kwargs.get("data"):
            kwargs.setdefault("initial", {
                "target": "everyone" if campaign.audience_everyone else "choose",
                "segments": list(campaign.segments.all()), "lists": list(campaign.lists.all()),
                "tags": list(campaign.tags.all()),
            })
        super().__init__(*args, **kwargs)
        tenant_id = campaign.tenant_id
        self.fields["segments"].queryset = Segment.objects.filter(tenant_id=tenant_id).order_by("name")
        self.fields["lists"].queryset = ContactList.objects.filter(tenant_id=tenant_id).order_by("name")
        self.fields["tags"].queryset = Tag.objects.filter(tenant_id=tenant_id).order_by("name")
        if self.telegram:
            # Rendered by audiences/telegram_targets.html (same names); validated here.
            self.fields["tg_subscribers"] = forms.ChoiceField(
                label="Direct messages", choices=list(SUBSCRIBER_MODES.items()),
                error_messages={"required": "Choose whether subscribers get a direct message.",
                                "invalid_choice": "Choose whether subscribers get a direct message."})
            chats = telegram_chats(tenant_id=tenant_id).values_list("chat_id", "title")
            self.fields["tg_chat_ids"] = forms.TypedMultipleChoiceField(
                label="Groups and channels", required=False, coerce=int,
                choices=[(str(chat_id), title or str(chat_id)) for chat_id, title in chats],
                error_messages={"invalid_choice": "A ticked group or channel is not one the bot is in any more: "
                                                  "reload the page."})

    def clean_csv_file(self):
        upload = self.cleaned_data.get("csv_file")
        if upload and upload.size > CSV_MAX_BYTES:
            raise ValidationError("The CSV is over 20 MB: use Audiences › Import for large files.")
        return upload

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("csv_file"):
            name = (cleaned.get("csv_list_name") or "").strip() or f"{self.campaign.name} upload"
            if ContactList.objects.filter(tenant_id=self.campaign.tenant_id, name=name).exists():
                self.add_error("csv_list_name", f"A list named “{name}” already exists; choose another name.")
            cleaned["csv_list_name"] = name
        chosen = cleaned.get("target") == "everyone" or any(
            cleaned.get(k) for k in ("segments", "lists", "tags", "csv_file"))
        targets = None
        if self.telegram:
            targets = TelegramTargets(subscribers=cleaned.get("tg_subscribers") or SUBSCRIBERS_NONE,
                                      chat_ids=tuple(dict.fromkeys(cleaned.get("tg_chat_ids") or ())))
            cleaned["telegram_targets"] = targets
            if targets.empty and "tg_subscribers" not in self.errors:
                self.add_error("tg_subscribers", "Choose who receives the Telegram message: subscribers, "
                                                 "a group or a channel.")
        if channel_needs_audience(self.campaign, telegram=targets) and not chosen and not self.errors:
            raise ValidationError("Choose who receives the campaign: all contacts, or at least one segment, "
                                  "list or tag, or upload a CSV.")
        return cleaned


# --- Budget and schedule -------------------------------------------------------------------------

class BudgetScheduleForm(forms.Form):
    budget_total = forms.DecimalField(label="Total budget", required=False, min_value=Decimal("0"), max_digits=14,
                                      decimal_places=2, help_text="Blank: no limit.")
    currency = forms.CharField(label="Currency", max_length=3, min_length=3)
    send_mode = forms.ChoiceField(label="When", widget=forms.RadioSelect, choices=SendMode.choices)
    optimal_window_hours = forms.IntegerField(
        label="Within (hours)", min_value=1, max_value=168, required=False,
        help_text="Optimal time: each recipient gets it at the local hour they engage most, within this many "
                  "hours of sending.")
    scheduled_date = forms.DateField(label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    scheduled_time = forms.TimeField(label="Time", required=False,
                                     widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    schedule_timezone = forms.ChoiceField(label="Time zone")
    recurrence = forms.ChoiceField(label="Repeat", choices=Recurrence.choices)
    recurrence_rule = forms.CharField(label="Custom rule (RRULE)", required=False, max_length=200,
                                      widget=forms.TextInput(attrs={"placeholder": "FREQ=WEEKLY;BYDAY=MO,TH"}),
                                      help_text="An RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO,TH.")
    recurrence_end = forms.DateField(label="Repeat until", required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, campaign: Campaign, now: dt.datetime | None = None, **kwargs) -> None:
        self.campaign = campaign
        self.now = now or timezone.now()
        tenant = campaign.tenant
        if not kwargs.get("data"):
            tz = zoneinfo.ZoneInfo(campaign.timezone_name)
            local = campaign.scheduled_at.astimezone(tz) if campaign.scheduled_at else None
            budgets = {b.channel: b.allocated for b in campaign.budgets.all()}
            kwargs.setdefault("initial", {
                "budget_total": campaign.budget_total, "currency": campaign.currency or tenant.currency,
                "send_mode": campaign.send_mode, "optimal_window_hours": campaign.optimal_window_hours,
                "scheduled_date": local.date() if local else None,
                "scheduled_time": local.time().replace(second=0, microsecond=0) if local else None,
                "schedule_timezone": campaign.timezone_name, "recurrence": campaign.recurrence,
                "recurrence_rule": campaign.recurrence_rule, "recurrence_end": campaign.recurrence_end,
                **{f"alloc_{ch}": budgets[ch].quantize(Decimal("0.01")) if ch in budgets else None for ch in campaign.channels},
            })
        super().__init__(*args, **kwargs)
        self.fields["schedule_timezone"].choices = timezone_choices()
        for ch in campaign.channels:
            self.fields[f"alloc_{ch}"] = forms.DecimalField(
                label=CHANNEL_LABELS[ch], required=False, min_value=Decimal("0"), max_digits=14, decimal_places=2)

    @property
    def allocation_fields(self):
        return [self[f"alloc_{ch}"] for ch in self.campaign.channels]

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].strip().upper()
        if not value.isalpha():
            raise ValidationError("Use a three-letter ISO code such as USD, EUR or INR.")
        return value

    def clean_recurrence_rule(self) -> str:
        rule = self.cleaned_data.get("recurrence_rule", "").strip()
        if rule.upper().startswith("RRULE:"):
            rule = rule[6:]
        return rule

    def clean(self):
        cleaned = super().clean()
        allocations = {ch: cleaned.get(f"alloc_{ch}") for ch in self.campaign.channels}
        total = cleaned.get("budget_total")
        allocated = sum((a for a in allocations.values() if a is not None), Decimal("0"))
        if total is not None and allocated > total:
            self.add_error("budget_total", f"The channel allocations add up to {allocated:.2f}, more than the "
                                           f"total budget of {total:.2f}.")
        mode = cleaned.get("send_mode")
        cleaned["scheduled_at"] = None
        if cleaned.get("optimal_window_hours") is None:
            if mode == SendMode.OPTIMAL and "optimal_window_hours" not in self.errors:
                self.add_error("optimal_window_hours", "Say within how many hours every recipient should get it.")
            cleaned["optimal_window_hours"] = self.campaign.optimal_window_hours
        if mode == SendMode.SCHEDULED:
            date, time, tz_name = cleaned.get("scheduled_date"), cleaned.get("scheduled_time"), cleaned.get(
                "schedule_timezone")
            if date is None:
                self.add_error("scheduled_date", "Choose the day to send.")
            if time is None:
                self.add_error("scheduled_time", "Choose the time to send.")
            if date and time and tz_name:
                # The wall-clock time in the chosen zone, stored as UTC.
                local = dt.datetime.combine(date, time).replace(tzinfo=zoneinfo.ZoneInfo(tz_name))
                cleaned["scheduled_at"] = local.astimezone(dt.UTC)
                if cleaned["scheduled_at"] <= self.now:
                    self.add_error("scheduled_time", "That time has already passed; choose a later one.")
        recurrence = cleaned.get("recurrence")
        if recurrence and recurrence != Recurrence.NONE and mode != SendMode.SCHEDULED:
            self.add_error("recurrence", "A repeating campaign needs a first date and time: choose Schedule.")
        if recurrence == Recurrence.CUSTOM:
            rule = cleaned.get("recurrence_rule", "")
            if not rule:
                self.add_error("recurrence_rule", "Write the rule, e.g. FREQ=WEEKLY;BYDAY=MO,TH.")
            else:
                try:
                    rrule.rrulestr(rule, dtstart=dt.datetime(2000, 1, 1), ignoretz=True)
                except (ValueError, TypeError) as exc:
                    self.add_error("recurrence_rule", f"Not a valid RRULE: {exc}")
        elif recurrence:
            cleaned["recurrence_rule"] = ""
        end = cleaned.get("recurrence_end")
        if end and recurrence == Recurrence.NONE:
            cleaned["recurrence_end"] = None
        elif end and cleaned.get("scheduled_date") and end < cleaned["scheduled_date"]:
            self.add_error("recurrence_end", "The end date is before the first send.")
        cleaned["allocations"] = allocations
        return cleaned


# --- Advanced ------------------------------------------------------------------------------------

class AdvancedForm(forms.ModelForm):
    calling_hours_timezone = forms.ChoiceField(label="Fixed time zone", required=False)

    class Meta:
        model = Campaign
        fields = ["calling_hours_start", "calling_hours_end", "calling_hours_mode", "calling_hours_timezone",
                  "throttle_per_minute", "batch_delay_seconds", "whatsapp_list_size", "track_delivery",
                  "track_reads", "track_links"]
        labels = {
            "calling_hours_start": "Calling hours start", "calling_hours_end": "Calling hours end",
            "calling_hours_mode": "Calling hours apply in", "throttle_per_minute": "Max messages per minute",
            "batch_delay_seconds": "Delay between batches (seconds)",
            "whatsapp_list_size": "WhatsApp broadcast list size",
            "track_delivery": "Track delivery", "track_reads": "Track read receipts", "track_links": "Track link clicks",
        }
        widgets = {
            "calling_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "calling_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "calling_hours_mode": forms.RadioSelect,
        }
        help_texts = {
            "calling_hours_start": "Blank: SMS and voice send 08:00–21:00 in the recipient's time zone; other "
                                   "channels send at any time.",
            "throttle_per_minute": "Blank: as fast as each channel configuration's rate allows.",
            "whatsapp_list_size": f"Recipients per WhatsApp broadcast batch, at most {WHATSAPP_MAX_BROADCAST_LIST}.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["calling_hours_timezone"].choices = [("", "—")] + timezone_choices()
        self.fields["calling_hours_mode"].choices = CallingHoursMode.choices
        self.fields["whatsapp_list_size"].error_messages["max_value"] = (
            f"WhatsApp allows at most {WHATSAPP_MAX_BROADCAST_LIST} recipients per broadcast list.")
        self.fields["throttle_per_minute"].widget.attrs["placeholder"] = "No limit"

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("calling_hours_start"), cleaned.get("calling_hours_end")
        if (start is None) != (end is None) and "calling_hours_start" not in self.errors:
            self.add_error("calling_hours_end" if start else "calling_hours_start",
                           "Set both the start and the end of calling hours, or neither.")
        elif start is not None and start == end:
            self.add_error("calling_hours_end", "The end must differ from the start.")
        if cleaned.get("calling_hours_mode") == CallingHoursMode.FIXED and not cleaned.get("calling_hours_timezone"):
            self.add_error("calling_hours_timezone", "Choose the time zone calling hours apply in.")
        return cleaned


# --- Review: test send ---------------------------------------------------------------------------

class SendTestForm(forms.Form):
    channel = forms.ChoiceField(label="Channel")
    contact_email = forms.CharField(label="Contact (email or phone)", required=False,
                                    help_text="A contact of this workspace: consent is checked.")
    address = forms.CharField(label="Or a test address", required=False, max_length=320,
                              help_text="Your own email, phone number or Telegram chat id.")

    def __init__(self, *args, campaign: Campaign, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.fields["channel"].choices = [(c, CHANNEL_LABELS[c]) for c in campaign.channels if c != "social"]

    def clean(self):
        from audiences.models import Contact

        cleaned = super().clean()
        lookup = (cleaned.get("contact_email") or "").strip()
        cleaned["contact"] = None
        if lookup:
            contact = Contact.objects.filter(tenant_id=self.campaign.tenant_id).filter(
                email=lookup.lower()).first() or Contact.objects.filter(
                tenant_id=self.campaign.tenant_id, phone=lookup).first()
            if contact is None:
                self.add_error("contact_email", "No contact with that email or phone in this workspace.")
            cleaned["contact"] = contact
        elif not (cleaned.get("address") or "").strip():
            raise ValidationError("Choose a contact or type a test address.")
        return cleaned
