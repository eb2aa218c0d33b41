from __future__ import annotations

import zoneinfo

from django import forms

from tenants.models import Tenant

TIMEZONE_CHOICES = [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"]


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
        widgets = {"timezone": forms.Select(choices=TIMEZONE_CHOICES)}
        help_texts = {
            "timezone": "Schedules and calling hours default to this time zone.",
        }
