"""The channel config form, built from the provider's ConfigField declarations.

Secret fields are write-only: rendered as empty password inputs (never with their value), a
blank submission keeps what is stored, and the help text shows at most the last four characters.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

SETTING_PREFIX = "s_"
CLEAR_PREFIX = "clear_"


class ChannelConfigForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Shown to marketers when they pick how a campaign is sent.")
    rate_per_second = forms.FloatField(
        min_value=0.01, label="Rate limit (messages per second)",
        help_text="Shared by every worker. Defaults to the provider's published limit.",
    )
    unit_cost = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=5,
                                   label="Cost per message", initial=Decimal("0"))
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    is_default = forms.BooleanField(required=False, label="Default for this channel")

    def __init__(self, *args, adapter_cls, currency: str, instance=None, generated: frozenset[str] = frozenset(),
                 **kwargs):
        self.adapter_cls = adapter_cls
        self.instance = instance
        super().__init__(*args, **kwargs)
        self.fields["unit_cost"].label = f"Cost per message ({currency})"
        stored_settings = dict(instance.settings or {}) if instance else {}
        hints = instance.secret_hints() if instance else {}
        self.secret_names: list[str] = []
        for spec in adapter_cls.fields:
            key = SETTING_PREFIX + spec.name
            if spec.secret:
                self.secret_names.append(spec.name)
                stored = spec.name in hints
                help_parts = [spec.help] if spec.help else []
                if stored:
                    help_parts.append(f"Stored: {hints[spec.name]}. Leave blank to keep it.")
                elif spec.name in generated:
                    help_parts.append("Leave blank to have one generated for you.")
                self.fields[key] = forms.CharField(
                    label=spec.label,
                    required=spec.required and not stored and spec.name not in generated,
                    strip=True,
                    max_length=4000,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=" ".join(help_parts),
                )
                if stored and not spec.required:
                    self.fields[CLEAR_PREFIX + spec.name] = forms.BooleanField(
                        required=False, label=f"Remove the stored {spec.label.lower()}"
                    )
            else:
                self.fields[key] = forms.CharField(
                    label=spec.label, required=spec.required, max_length=1000, help_text=spec.help,
                    initial=stored_settings.get(spec.name, ""),
                )
        if instance is None:
            self.fields["rate_per_second"].initial = adapter_cls.capabilities.default_rate_per_second
        else:
            for name in ("name", "rate_per_second", "unit_cost", "enabled", "is_default"):
                self.fields[name].initial = getattr(instance, name)

    def provider_values(self) -> dict[str, str]:
        return {
            spec.name: self.cleaned_data.get(SETTING_PREFIX + spec.name, "")
            for spec in self.adapter_cls.fields
        }

    def secrets_to_clear(self) -> list[str]:
        return [name for name in self.secret_names if self.cleaned_data.get(CLEAR_PREFIX + name)]

    def common_fields(self):
        return [self[name] for name in ("name", "rate_per_second", "unit_cost", "enabled", "is_default")]

    def provider_fields(self):
        return [self[name] for name in self.fields if name.startswith((SETTING_PREFIX, CLEAR_PREFIX))]
