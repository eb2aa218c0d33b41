"""The WhatsApp template form: WhatsApp's own naming and variable rules, checked as the marketer types."""

from __future__ import annotations

import re

from django import forms

from campaigns.models import CampaignMedia, MessageTemplate
from campaigns.services_templates import (
    MAX_BUTTONS,
    body_errors,
    buttons_errors,
    footer_errors,
    name_errors,
)

LANGUAGES = [
    ("en", "English"), ("en_US", "English (US)"), ("en_GB", "English (UK)"), ("hi", "Hindi"), ("mr", "Marathi"),
    ("ta", "Tamil"), ("te", "Telugu"), ("bn", "Bengali"), ("es", "Spanish"), ("es_MX", "Spanish (Mexico)"),
    ("pt_BR", "Portuguese (Brazil)"), ("fr", "French"), ("de", "German"), ("it", "Italian"), ("ar", "Arabic"),
    ("id", "Indonesian"),
]
BUTTON_TYPES = [("", "No button"), ("quick_reply", "Quick reply"), ("url", "Link")]


class MessageTemplateForm(forms.ModelForm):
    language = forms.ChoiceField(choices=LANGUAGES)
    # The queryset is the tenant's media, set per form (the scoped manager can't be queried at import).
    header_media = forms.ModelChoiceField(queryset=None, required=False, empty_label="No header media",
                                          help_text="An image, video or document uploaded with a campaign.")
    samples_text = forms.CharField(
        label="Sample values", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, for {{1}}, {{2}} … in order, as a real recipient would see them "
                  "(e.g. Asha, 1 March). WhatsApp's reviewers read the message with these.")

    class Meta:
        model = MessageTemplate
        fields = ["name", "language", "category", "header_media", "body", "footer"]
        help_texts = {
            "name": "Lower-case letters, digits and underscores, e.g. spring_sale_2026. Fixed once approved.",
            "body": "Numbered variables {{1}}, {{2}} … filled in per recipient by the campaign. "
                    "Not at the very start or end.",
            "footer": "Optional, up to 60 characters, no variables (e.g. “Reply STOP to opt out”).",
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 6}), "name": forms.TextInput()}

    def __init__(self, *args, tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["name"].validators = []  # our message, not the slug validator's
        self.fields["header_media"].queryset = CampaignMedia.objects.filter(
            tenant=tenant, kind__in=[CampaignMedia.Kind.IMAGE, CampaignMedia.Kind.VIDEO, CampaignMedia.Kind.DOCUMENT],
        ).order_by("-created_at")
        self.fields["samples_text"].initial = "\n".join(self.instance.samples or [])
        buttons = list(self.instance.buttons or []) if self.instance.pk else []
        for n in range(1, MAX_BUTTONS + 1):
            current = buttons[n - 1] if len(buttons) >= n else {}
            self.fields[f"button_{n}_type"] = forms.ChoiceField(
                choices=BUTTON_TYPES, required=False, label=f"Button {n}", initial=current.get("type", ""))
            self.fields[f"button_{n}_text"] = forms.CharField(
                required=False, label="Label", max_length=40, initial=current.get("text", ""))
            self.fields[f"button_{n}_url"] = forms.CharField(
                required=False, label="Link (https://)", max_length=500, initial=current.get("url", ""))

    @property
    def button_rows(self):
        return [(self[f"button_{n}_type"], self[f"button_{n}_text"], self[f"button_{n}_url"])
                for n in range(1, MAX_BUTTONS + 1)]

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name", "").strip()
        for message in name_errors(name):
            raise forms.ValidationError(message)
        return name

    def clean_body(self) -> str:
        body = self.cleaned_data.get("body", "")
        problems = body_errors(body)
        if problems:
            raise forms.ValidationError(problems)
        return body

    def clean_samples_text(self) -> list[str]:
        samples = [line.strip() for line in self.cleaned_data.get("samples_text", "").splitlines() if line.strip()]
        if any(len(sample) > 200 for sample in samples):
            raise forms.ValidationError("Keep each sample under 200 characters.")
        return samples

    def clean_footer(self) -> str:
        footer = self.cleaned_data.get("footer", "").strip()
        problems = footer_errors(footer)
        if problems:
            raise forms.ValidationError(problems)
        return footer

    def clean(self):
        cleaned = super().clean()
        buttons = []
        for n in range(1, MAX_BUTTONS + 1):
            kind = cleaned.get(f"button_{n}_type")
            text = (cleaned.get(f"button_{n}_text") or "").strip()
            url = (cleaned.get(f"button_{n}_url") or "").strip()
            if not kind:
                continue
            button = {"type": kind, "text": text}
            if kind == "url":
                button["url"] = url
            buttons.append(button)
        for message in buttons_errors(buttons):
            self.add_error(None, message)
        cleaned["buttons"] = buttons
        samples, body = cleaned.get("samples_text") or [], cleaned.get("body") or ""
        variables = len(set(re.findall(r"\{\{\s*(\d+)\s*\}\}", body)))
        if len(samples) > variables:
            self.add_error("samples_text", f"The body has {variables} variable{'s' if variables != 1 else ''}: "
                                           f"give at most {variables} sample{'s' if variables != 1 else ''}.")
        name, language = cleaned.get("name"), cleaned.get("language")
        if name and language:
            clash = MessageTemplate.objects.filter(tenant=self.tenant, name=name, language=language)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", f"A template named {name} already exists in this language.")
        return cleaned

    def save(self, commit: bool = True) -> MessageTemplate:
        template = super().save(commit=False)
        template.tenant = self.tenant
        template.buttons = self.cleaned_data["buttons"]
        template.samples = self.cleaned_data.get("samples_text") or []
        if commit:
            template.save()
        return template
