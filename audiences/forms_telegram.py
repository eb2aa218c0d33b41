"""Forms of the Telegram pages: the subscribers' bulk actions and a direct message."""

from __future__ import annotations

import uuid

from django import forms

from audiences import services
from audiences.models import ContactList, Tag
from audiences.telegram import DM_LIMIT, telegram_removable_chats

# "Unsubscribe" stops the bot's messages; "Remove from group…" takes people out of a Telegram group.
ACTIONS = (("", "Choose an action"), ("group_remove", "Remove from group…"), ("unsubscribe", "Unsubscribe"),
           ("block", "Block"), ("unblock", "Unblock"), ("list_add", "Add to list"),
           ("tag_add", "Add tag (for segments)"))


class SubscriberActionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTIONS)
    contact_list = forms.ModelChoiceField(queryset=ContactList.objects.none(), required=False, label="List",
                                          empty_label="Choose a list")
    tag_name = forms.CharField(max_length=60, required=False, label="Tag",
                               help_text="A new name creates the tag; segments can then select it.")
    chat = forms.ModelChoiceField(queryset=None, required=False, label="Group", empty_label="Choose a group",
                                  to_field_name="pk")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["contact_list"].queryset = ContactList.objects.filter(tenant=tenant)
        self.fields["chat"].queryset = telegram_removable_chats(tenant_id=tenant.pk)

    def clean(self):
        data = super().clean()
        ids = []
        for value in self.data.getlist("ids") if hasattr(self.data, "getlist") else ():
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        if not ids:
            raise forms.ValidationError("Tick at least one subscriber.")
        data["ids"] = ids
        action = data.get("action")
        if action == "group_remove" and not data.get("chat"):
            self.add_error("chat", "Choose the group to remove them from.")
        if action == "list_add" and not data.get("contact_list"):
            self.add_error("contact_list", "Choose the list to add them to.")
        if action == "tag_add":
            name = (data.get("tag_name") or "").strip()
            if not name:
                self.add_error("tag_name", "Name the tag to add.")
            else:
                tag = Tag.objects.filter(tenant=self.tenant, name__iexact=name).first()
                data["tag"] = tag or services.tag_save(tenant_id=self.tenant.pk, name=name)
        return data


class DirectMessageForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=DM_LIMIT, label="Message",
                           help_text="Plain text, sent now through the workspace's Telegram bot.")
