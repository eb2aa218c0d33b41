"""Forms of the contacts area: contact edit, consent change, tags, lists, suppressions, grid filter.

Forms only parse and normalize; writes go through audiences.services.
"""

from __future__ import annotations

import json
import re

from django import forms

from audiences import services
from audiences.models import (
    CONSENT_CHANNELS,
    ConsentState,
    Contact,
    ContactList,
    ContactRole,
    SuppressionKind,
    Tag,
)
from audiences.segments import ATTRIBUTE_KEY_RE
from tenants.forms import TIMEZONE_CHOICES
from tenants.models import CHANNEL_LABELS

CHANNEL_CHOICES = [(c, CHANNEL_LABELS[c]) for c in CONSENT_CHANNELS]


def attributes_to_text(attributes: dict) -> str:
    lines = []
    for key, value in sorted(attributes.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        lines.append(f"{key}={text}")
    return "\n".join(lines)


def attributes_from_text(text: str) -> dict:
    """`key=value` lines to a dict (values as services.attribute_value stores them)."""
    attributes: dict = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise forms.ValidationError(f"Line {n}: write key=value (e.g. plan=pro).")
        if not re.match(ATTRIBUTE_KEY_RE, key):
            raise forms.ValidationError(
                f"Line {n}: “{key}” is not a valid key: use letters, digits and _, starting with a letter.")
        if key in attributes:
            raise forms.ValidationError(f"Line {n}: “{key}” appears twice.")
        attributes[key] = services.attribute_value(value)
    return attributes


class ContactForm(forms.Form):
    first_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    email = forms.CharField(max_length=254, required=False, widget=forms.EmailInput)
    phone = forms.CharField(max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    role = forms.ChoiceField(choices=ContactRole.choices, initial=ContactRole.CUSTOMER)
    city = forms.CharField(max_length=80, required=False)
    pincode = forms.CharField(max_length=12, required=False, label="Pincode / postal code")
    timezone = forms.ChoiceField(required=False)
    locale = forms.CharField(max_length=16, required=False, help_text="Language for messages, e.g. en-IN or hi.")
    telegram_chat_id = forms.CharField(max_length=32, required=False, label="Telegram chat id")
    telegram_username = forms.CharField(max_length=64, required=False, label="Telegram username")
    attributes = forms.CharField(
        required=False, label="Custom attributes", widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text="One key=value per line, e.g. plan=pro. Numbers are stored as numbers.",
    )
    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.none(), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    lists = forms.ModelMultipleChoiceField(queryset=ContactList.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, tenant, contact: Contact | None = None, **kwargs):
        self.tenant, self.contact = tenant, contact
        if contact is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{name: getattr(contact, name) for name in services.CONTACT_FIELDS if name != "attributes"},
                "attributes": attributes_to_text(contact.attributes),
                "tags": list(contact.tags.all()), "lists": list(contact.lists.all()),
            }
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [("", f"Workspace default ({tenant.timezone})"), *TIMEZONE_CHOICES]
        self.fields["phone"].help_text = (
            f"Numbers without a country code are read as {tenant.default_phone_region} numbers.")
        self.fields["tags"].queryset = Tag.objects.filter(tenant=tenant).order_by("name")
        self.fields["lists"].queryset = ContactList.objects.filter(tenant=tenant).order_by("name")

    def clean_email(self) -> str:
        try:
            return services.email_normalize(self.cleaned_data["email"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_phone(self) -> str:
        try:
            return services.phone_normalize(self.cleaned_data["phone"], region=self.tenant.default_phone_region)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_attributes(self) -> dict:
        return attributes_from_text(self.cleaned_data["attributes"])

    def clean(self):
        data = super().clean()
        if not self.errors:
            if not any(data.get(k) for k in ("first_name", "last_name", "email", "phone", "telegram_chat_id")):
                raise forms.ValidationError("Give at least a name, an email address or a phone number.")
            try:
                services.contact_duplicate_check(tenant_id=self.tenant.pk, email=data["email"], phone=data["phone"],
                                                 exclude_pk=getattr(self.contact, "pk", None))
            except services.DuplicateContact as exc:
                self.add_error(exc.field, str(exc))
        return data

    def contact_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.CONTACT_FIELDS}


class ConsentChangeForm(forms.Form):
    channel = forms.ChoiceField(choices=CHANNEL_CHOICES)
    state = forms.ChoiceField(choices=ConsentState.choices)
    note = forms.CharField(max_length=300, required=False, label="Reason or evidence (kept in the history)",
                           widget=forms.TextInput(attrs={"placeholder": "e.g. asked by phone on 3 May"}))


class TagForm(forms.Form):
    name = forms.CharField(max_length=60, label="Tag name")


class ContactListForm(forms.Form):
    name = forms.CharField(max_length=120, label="List name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SuppressionForm(forms.Form):
    kind = forms.ChoiceField(choices=SuppressionKind.choices, label="Type")
    value = forms.CharField(max_length=254, label="Email address or phone number")
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, tenant, **kwargs):
        self.tenant = tenant
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            if data["kind"] == SuppressionKind.EMAIL:
                data["value"] = services.email_normalize(data["value"])
            else:
                data["value"] = services.phone_normalize(data["value"], region=self.tenant.default_phone_region)
        except ValueError as exc:
            self.add_error("value", str(exc))
        return data


class GridFilterForm(forms.Form):
    """The grid's filters, read from the query string; bad values are dropped, never a 500."""

    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name, email or phone"}))
    role = forms.ChoiceField(required=False, choices=[("", "Any role"), *ContactRole.choices])
    city = forms.CharField(required=False, max_length=80, widget=forms.TextInput(attrs={"placeholder": "Any city"}))
    tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False, empty_label="Any tag")
    list = forms.ModelChoiceField(queryset=ContactList.objects.none(), required=False, empty_label="Any list")
    consent_channel = forms.ChoiceField(required=False, label="Consent on",
                                        choices=[("", "Any channel"), *CHANNEL_CHOICES])
    consent_state = forms.ChoiceField(required=False, label="Consent state",
                                      choices=[("", "Any state"), *ConsentState.choices])

    reachable = forms.ChoiceField(required=False, label="Reachable by", choices=[("", "Any channel"), *CHANNEL_CHOICES],
                                  help_text="Has the address, the consent and no suppression.")

    FILTER_NAMES = ("q", "role", "city", "tag", "list", "consent_channel", "consent_state", "reachable")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["tag"].queryset = Tag.objects.filter(tenant=tenant).order_by("name")
        self.fields["list"].queryset = ContactList.objects.filter(tenant=tenant).order_by("name")

    def selector_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {
            name: value for name, value in getattr(self, "cleaned_data", {}).items() if name not in self.errors}
        return {
            "q": data.get("q") or "", "role": data.get("role") or "", "city": data.get("city") or "",
            "tag": data.get("tag"), "contact_list": data.get("list"),
            "consent_channel": data.get("consent_channel") or "", "consent_state": data.get("consent_state") or "",
            "reachable": data.get("reachable") or "",
        }

    @property
    def active(self) -> bool:
        kwargs = self.selector_kwargs()
        return any(value for value in kwargs.values())
