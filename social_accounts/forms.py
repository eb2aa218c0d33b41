from __future__ import annotations

from django import forms

from social_accounts.models import Platform, SocialAccount


class SocialAccountForm(forms.Form):
    platform = forms.ChoiceField(choices=Platform.choices)
    handle = forms.CharField(max_length=100, help_text="How people know the account, e.g. @acmeretail.")
    account_id = forms.CharField(
        max_length=200, required=False, label="Account ID",
        help_text="Facebook Page id, Instagram account id, LinkedIn author URN (urn:li:organization:…), "
                  "WhatsApp phone number id. Optional for X.",
    )
    access_token = forms.CharField(
        max_length=4000, required=True, strip=True, label="Access token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    token_expires_at = forms.DateTimeField(
        required=False, label="Token expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the platform said this token expires; we warn 7 days before.",
    )

    def __init__(self, *args, instance: SocialAccount | None = None, **kwargs):
        self.instance = instance
        super().__init__(*args, **kwargs)
        if instance is not None:
            # The platform of an account never changes; a different platform is a new account.
            self.fields["platform"].disabled = True
            self.fields["platform"].initial = instance.platform
            self.fields["handle"].initial = instance.handle
            self.fields["account_id"].initial = instance.account_id
            self.fields["token_expires_at"].initial = instance.token_expires_at
            hint = instance.secret_hints().get("access_token")
            self.fields["access_token"].required = False
            self.fields["access_token"].help_text = (
                f"Stored: {hint}. Leave blank to keep it, or paste a new token to reconnect." if hint
                else "No token stored: paste one to reconnect."
            )

    def clean(self):
        cleaned = super().clean()
        platform = cleaned.get("platform")
        if platform and platform != Platform.X and not cleaned.get("account_id"):
            self.add_error("account_id", "This platform needs the account id to post to.")
        return cleaned
