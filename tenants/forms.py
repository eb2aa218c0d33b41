from __future__ import annotations

from django import forms

from tenants.models import Tenant


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        help_text="What will use this key, e.g. “Shop backend – conversions”.",
        widget=forms.TextInput(attrs={"placeholder": "Shop backend"}),
    )


class WorkspaceSettingsForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "timezone", "default_phone_region", "currency"]
        help_texts = {
            "timezone": "IANA name, e.g. Asia/Kolkata. Schedules and calling hours default to it.",
        }
