"""Forms of the workflow editor: the trigger, and one step (fields depend on the step's kind and,
for a send step, on its channel). Content is validated by the campaigns.content class of the
channel, the same code that renders it at send time."""

from __future__ import annotations

from typing import Any

from django import forms

from audiences.models import Segment, Tag
from audiences.segments import FIELD_OPS
from campaigns.content import content_for
from campaigns.journeys.triggers import FILTER_OPS, trigger_errors
from campaigns.journeys.workflow import JOURNEY_CHANNELS
from campaigns.models import (
    CampaignTrigger,
    ConditionKind,
    MessageTemplate,
    StepKind,
    TemplateStatus,
    WaitMode,
    WorkflowStep,
)
from tenants.models import CHANNEL_LABELS

BELOW = ""  # choice value: "the step below"

# Per channel: (content field, label, widget) shown in a send step.
CONTENT_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "email": [("subject", "Subject", "input"), ("preheader", "Preview text", "input"), ("html", "Body (HTML)", "textarea")],
    "sms": [("text", "Message", "textarea")],
    "push": [("title", "Title", "input"), ("body", "Message", "textarea"), ("url", "Link", "input")],
    "whatsapp": [("session_text", "Message (inside the 24-hour window)", "textarea")],
    "telegram": [("text", "Message", "textarea")],
    "voice": [("script", "Call script", "textarea")],
}
WAIT_UNITS = (("minutes", "minutes"), ("hours", "hours"), ("days", "days"))
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 24 * 60}


def step_label(step: WorkflowStep) -> str:
    detail = CHANNEL_LABELS.get(step.channel, "") if step.kind == StepKind.SEND else ""
    return f"Step {step.position} · {step.get_kind_display()}{f' ({detail})' if detail else ''}"


class TriggerForm(forms.ModelForm):
    # The queryset is the tenant's (set in __init__): the scoped manager refuses an unscoped one.
    segment = forms.ModelChoiceField(queryset=None, required=False, label="Segment")
    filter_key = forms.CharField(label="Property", required=False, max_length=64)
    filter_op = forms.ChoiceField(label="Test", required=False,
                                  choices=[("", "—")] + [(op, op.replace("_", " ")) for op in FILTER_OPS])
    filter_value = forms.CharField(label="Value", required=False, max_length=200)

    class Meta:
        model = CampaignTrigger
        fields = ["kind", "segment", "event_name", "date_attribute", "days_offset", "time_of_day", "frequency",
                  "frequency_days"]
        labels = {"kind": "Starts when", "event_name": "Event name", "date_attribute": "Date attribute",
                  "frequency": "Entry frequency", "frequency_days": "Days between entries"}
        help_texts = {"event_name": "As sent to POST /api/v1/events, e.g. cart_abandoned.",
                      "date_attribute": "A custom attribute holding YYYY-MM-DD (e.g. birthday), or “created”."}
        widgets = {"kind": forms.RadioSelect, "time_of_day": forms.TimeInput(attrs={"type": "time"}),
                   "frequency": forms.RadioSelect}

    def __init__(self, *args, tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(tenant=tenant)
        first = (self.instance.event_filter or [{}])[0] if self.instance.pk else {}
        self.fields["filter_key"].initial = first.get("key", "")
        self.fields["filter_op"].initial = first.get("op", "")
        self.fields["filter_value"].initial = first.get("value", "")

    def clean(self):
        data = super().clean()
        key, op = (data.get("filter_key") or "").strip(), data.get("filter_op") or ""
        if key and not op:
            self.add_error("filter_op", "Choose how to test the property.")
        self.instance.event_filter = [{"key": key, "op": op, "value": data.get("filter_value", "")}] if key and op else []
        if self.errors:
            return data
        candidate = self.instance
        for name in self.Meta.fields:
            setattr(candidate, name, data.get(name))
        for problem in trigger_errors(candidate):
            self.add_error(None, problem)
        return data


class StepForm(forms.Form):
    """One step's fields; only those of its kind are present."""

    def __init__(self, *args, step: WorkflowStep, steps: list[WorkflowStep], tenant, channel: str | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.step, self.steps, self.tenant = step, steps, tenant
        others = [(str(s.pk), step_label(s)) for s in steps if s.pk != step.pk]
        targets = [(BELOW, "The step below (or finish)")] + others
        kind = step.kind
        if kind == StepKind.SEND:
            # An unknown channel in the request shows the step's own fields; the choice field below
            # then refuses the value with a message instead of the page failing.
            self.channel = channel if channel in JOURNEY_CHANNELS else (step.channel or "email")
            enabled = [c for c in JOURNEY_CHANNELS if tenant.channel_enabled(c)]
            self.fields["channel"] = forms.ChoiceField(label="Channel", initial=self.channel,
                                                       choices=[(c, CHANNEL_LABELS[c]) for c in enabled])
            data = step.data if step.channel == self.channel else {}
            if self.channel == "whatsapp":
                templates = MessageTemplate.objects.filter(tenant=tenant, status=TemplateStatus.APPROVED)
                self.fields["mode"] = forms.ChoiceField(label="Message type", initial=data.get("mode", "template"),
                                                        choices=[("template", "Approved template"),
                                                                 ("session", "Free text (24-hour window)")])
                self.fields["template_id"] = forms.ChoiceField(
                    label="Template", required=False, initial=data.get("template_id", ""),
                    choices=[("", "—")] + [(str(t.pk), t.name) for t in templates])
            for name, label, widget in CONTENT_FIELDS.get(self.channel, []):
                field_widget = forms.Textarea(attrs={"rows": 4}) if widget == "textarea" else forms.TextInput
                self.fields[f"content_{name}"] = forms.CharField(label=label, required=False, widget=field_widget,
                                                                 initial=data.get(name, ""))
        elif kind == StepKind.WAIT:
            minutes = step.wait_minutes or 0
            unit = "days" if minutes and minutes % (24 * 60) == 0 else "hours" if minutes and minutes % 60 == 0 else "minutes"
            self.fields["wait_mode"] = forms.ChoiceField(label="Wait", choices=WaitMode.choices, initial=step.wait_mode,
                                                         widget=forms.RadioSelect)
            self.fields["wait_amount"] = forms.IntegerField(label="How long", min_value=1, max_value=100000,
                                                            required=False, initial=minutes // UNIT_MINUTES[unit] or None)
            self.fields["wait_unit"] = forms.ChoiceField(label="Unit", choices=WAIT_UNITS, initial=unit)
            self.fields["wait_until"] = forms.TimeField(label="Until (contact's local time)", required=False,
                                                        initial=step.wait_until,
                                                        widget=forms.TimeInput(attrs={"type": "time"}))
        elif kind == StepKind.CONDITION:
            rule = step.condition_rule or {}
            above = [(str(s.pk), step_label(s)) for s in steps if s.kind == StepKind.SEND and s.position < step.position]
            self.fields["condition_kind"] = forms.ChoiceField(label="If the contact", choices=ConditionKind.choices,
                                                              initial=step.condition_kind)
            self.fields["condition_step"] = forms.ChoiceField(
                label="…the message of", required=False, choices=[("", "—")] + above,
                initial=str(step.condition_step_id or ""))
            self.fields["attribute_key"] = forms.CharField(label="Attribute", required=False, max_length=64,
                                                           initial=rule.get("key", ""))
            self.fields["attribute_op"] = forms.ChoiceField(
                label="Test", required=False, initial=rule.get("op", "equals"),
                choices=[(op, op) for op in FIELD_OPS["attribute"]])
            self.fields["attribute_value"] = forms.CharField(label="Value", required=False, max_length=200,
                                                             initial=rule.get("value", ""))
            tag_ids = rule.get("value") if rule.get("field") == "tag" else []
            self.fields["tag"] = forms.ChoiceField(
                label="Tag", required=False, initial=(tag_ids or [""])[0],
                choices=[("", "—")] + [(str(t.pk), t.name) for t in Tag.objects.filter(tenant=tenant)])
            self.fields["yes_next"] = forms.ChoiceField(label="Yes: go to", choices=targets, required=False,
                                                        initial=str(step.yes_next_id or ""))
            self.fields["no_next"] = forms.ChoiceField(label="No: go to", choices=targets, required=False,
                                                       initial=str(step.no_next_id or ""))
        if kind in (StepKind.SEND, StepKind.WAIT):
            self.fields["next_step"] = forms.ChoiceField(label="Then go to", choices=targets, required=False,
                                                         initial=str(step.next_step_id or ""))

    def _step(self, value: str) -> WorkflowStep | None:
        return next((s for s in self.steps if str(s.pk) == value), None) if value else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = self.step.kind
        values: dict[str, Any] = {}
        if kind == StepKind.SEND:
            channel = data.get("channel") or self.channel
            content = dict(self.step.data) if self.step.channel == channel else {}
            for name, _, _ in CONTENT_FIELDS.get(channel, []):
                content[name] = data.get(f"content_{name}", "")
            if channel == "whatsapp":
                content["mode"] = data.get("mode") or "template"
                content["template_id"] = data.get("template_id") or ""
            for field, messages in content_for(channel, content).errors().items():
                target = f"content_{field}" if f"content_{field}" in self.fields else None
                for message in messages:
                    self.add_error(target, message)
            values.update(channel=channel, data=content)
        elif kind == StepKind.WAIT:
            mode = data.get("wait_mode")
            values["wait_mode"] = mode
            if mode == WaitMode.DURATION:
                if not data.get("wait_amount"):
                    self.add_error("wait_amount", "Say how long to wait.")
                else:
                    values["wait_minutes"] = data["wait_amount"] * UNIT_MINUTES[data.get("wait_unit") or "days"]
            elif not data.get("wait_until"):
                self.add_error("wait_until", "Choose the time of day.")
            values["wait_until"] = data.get("wait_until")
        elif kind == StepKind.CONDITION:
            ck = data.get("condition_kind")
            values.update(condition_kind=ck, condition_step=None, condition_rule={},
                          yes_next=self._step(data.get("yes_next", "")), no_next=self._step(data.get("no_next", "")))
            if ck in (ConditionKind.OPENED, ConditionKind.CLICKED, ConditionKind.REPLIED):
                values["condition_step"] = self._step(data.get("condition_step", ""))
                if values["condition_step"] is None:
                    self.add_error("condition_step", "Choose the send step above whose message is tested.")
            elif ck == ConditionKind.ATTRIBUTE:
                if not (data.get("attribute_key") or "").strip():
                    self.add_error("attribute_key", "Name the custom attribute.")
                values["condition_rule"] = {"field": "attribute", "key": (data.get("attribute_key") or "").strip(),
                                            "op": data.get("attribute_op") or "equals",
                                            "value": data.get("attribute_value", "")}
            elif ck == ConditionKind.TAG:
                if not data.get("tag"):
                    self.add_error("tag", "Choose the tag.")
                values["condition_rule"] = {"field": "tag", "op": "any", "value": [data["tag"]] if data.get("tag") else []}
        if "next_step" in self.fields:
            values["next_step"] = self._step(data.get("next_step", ""))
        self.values = values
        return data
