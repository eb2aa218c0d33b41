"""Forms of the AI replies settings page."""

from __future__ import annotations

from django import forms

from campaigns.models import ResponseTriggerKind
from campaigns.rendering import template_errors

MAX_KEYWORDS = 20


class TriggerForm(forms.Form):
    kind = forms.ChoiceField(choices=ResponseTriggerKind.choices, initial=ResponseTriggerKind.KEYWORD, label="Matches on")
    keywords = forms.CharField(required=False, max_length=500, help_text="Comma-separated words or phrases, e.g. price, how much, cost.")
    intent = forms.CharField(required=False, max_length=500, label="Intent",
                             help_text="What the contact wants, e.g. “asks where the store is”. The AI recognises it.")
    response = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000,
                               help_text="Sent as written; {{ first_name }} and other contact variables are filled in.")
    position = forms.IntegerField(min_value=0, max_value=999, initial=0, help_text="Lower numbers are checked first.")

    def clean_keywords(self) -> list[str]:
        words = [w.strip().lower() for w in self.cleaned_data["keywords"].split(",") if w.strip()]
        if len(words) > MAX_KEYWORDS:
            raise forms.ValidationError(f"At most {MAX_KEYWORDS} keywords per trigger.")
        return list(dict.fromkeys(words))

    def clean_response(self) -> str:
        value = self.cleaned_data["response"].strip()
        problems = template_errors(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean(self):
        data = super().clean()
        if data.get("kind") == ResponseTriggerKind.KEYWORD and not data.get("keywords") and "keywords" not in self.errors:
            self.add_error("keywords", "Give at least one keyword.")
        if data.get("kind") == ResponseTriggerKind.INTENT and not (data.get("intent") or "").strip():
            self.add_error("intent", "Describe the intent.")
        return data


class InstructionForm(forms.Form):
    instruction = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 5}), label="Fallback instruction",
        help_text="How the AI should answer what no trigger covers: tone, facts it may use, what it must not promise.")
    model = forms.CharField(required=False, max_length=60, label="Model (optional)",
                            help_text="Leave empty for the workspace default.")


class TestMessageForm(forms.Form):
    message = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
                              error_messages={"required": "Type a message to try."})
