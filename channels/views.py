"""Channel config pages under /t/<slug>/channels/: list, add, edit, test, enable, delete, outbox.

Admins set providers up; marketers see the list, run connection tests and read the outbox;
analysts only read (TenantMiddleware refuses their POSTs). Secrets never leave the server: the
form renders password inputs without values and at most the last four characters as a hint.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels import registry, selectors, services
from channels.forms import ChannelConfigForm
from channels.models import ChannelConfig, OutboxMessage
from tenants.decorators import role_required
from tenants.models import CHANNEL_KEYS, CHANNEL_LABELS, Role
from tenants.urls_helpers import tenant_reverse


def _adapter_cls_or_404(provider: str, channel: str):
    if channel not in CHANNEL_KEYS or provider not in registry.providers_for_channel(channel):
        raise Http404("No such provider for this channel")
    try:
        return registry.adapter_class(provider)
    except (LookupError, ImportError, AttributeError):
        # A registry entry whose module is not installed in this build.
        raise Http404("Provider not available") from None


def _generated_names(adapter_cls) -> frozenset[str]:
    return frozenset(adapter_cls.generate_secrets())


@require_GET
def index(request):
    groups = selectors.channel_groups(tenant=request.tenant)
    return render(request, "channels/index.html", {
        "enabled_groups": [g for g in groups if g.enabled_for_tenant],
        "disabled_groups": [g for g in groups if not g.enabled_for_tenant],
        "can_admin": request.membership.is_admin,
        "can_test": request.membership.can_edit,
    })


@require_GET
@role_required(Role.ADMIN)
def config_new(request):
    """Step one: pick a channel, then one of its providers."""
    groups = [g for g in selectors.channel_groups(tenant=request.tenant) if g.enabled_for_tenant]
    return render(request, "channels/config_new.html", {"groups": groups})


@sensitive_variables("form")
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def config_create(request, channel: str, provider: str):
    adapter_cls = _adapter_cls_or_404(provider, channel)
    if not request.tenant.channel_enabled(channel):
        raise Http404("Channel disabled")
    form = ChannelConfigForm(request.POST or None, adapter_cls=adapter_cls, currency=request.tenant.currency,
                             generated=_generated_names(adapter_cls),
                             initial={"name": registry.PROVIDERS[provider][0]})
    if request.method == "POST" and form.is_valid():
        try:
            config = services.channel_config_create(
                tenant=request.tenant,
                channel=channel,
                provider=provider,
                name=form.cleaned_data["name"],
                values=form.provider_values(),
                rate_per_second=form.cleaned_data["rate_per_second"],
                unit_cost=form.cleaned_data["unit_cost"],
                enabled=form.cleaned_data["enabled"],
                is_default=form.cleaned_data["is_default"] or None,
            )
        except services.ChannelConfigError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"“{config.name}” saved. Test the connection to check the credentials.")
            return redirect(tenant_reverse(request.tenant, "channels:edit", config.pk))
    return render(request, "channels/config_form.html", {
        "form": form, "config": None, "channel": channel, "channel_label": CHANNEL_LABELS[channel],
        "provider_label": registry.PROVIDERS[provider][0], "can_admin": True, "can_test": True,
    })


@sensitive_variables("form")
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def config_edit(request, pk):
    config = get_object_or_404(ChannelConfig.objects.select_related("tenant"), pk=pk)
    can_admin = request.membership.is_admin
    if request.method == "POST" and not can_admin:
        raise PermissionDenied("Changing a channel needs the Admin role.")
    try:
        adapter_cls = config.adapter_class()
    except (LookupError, ImportError, AttributeError):
        raise Http404("Provider not available") from None
    form = ChannelConfigForm(request.POST or None, adapter_cls=adapter_cls, currency=request.tenant.currency,
                             instance=config, generated=_generated_names(adapter_cls))
    if request.method == "POST" and form.is_valid():
        try:
            services.channel_config_update(
                config=config,
                name=form.cleaned_data["name"],
                values=form.provider_values(),
                rate_per_second=form.cleaned_data["rate_per_second"],
                unit_cost=form.cleaned_data["unit_cost"],
                enabled=form.cleaned_data["enabled"],
                is_default=form.cleaned_data["is_default"],
                clear_secrets=form.secrets_to_clear(),
            )
        except services.ChannelConfigError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"“{config.name}” saved.")
            return redirect(tenant_reverse(request.tenant, "channels:edit", config.pk))
    return render(request, "channels/config_form.html", {
        "form": form, "config": config, "channel": config.channel, "channel_label": config.channel_label,
        "provider_label": config.provider_label, "can_admin": can_admin,
        "can_test": request.membership.can_edit,
        "channel_off": not request.tenant.channel_enabled(config.channel),
        "has_webhook": adapter_cls.capabilities.callbacks,
        # Providers that let us set their webhook through the API (Telegram's setWebhook).
        "can_register_webhook": callable(getattr(adapter_cls, "set_webhook", None)),
        "subscribe_page_url": _subscribe_page_url(config),
    })


def _subscribe_page_url(config: ChannelConfig) -> str:
    """Web push configs have a public subscribe page at /push/<webhook_token>/."""
    if config.channel != "push" or config.provider == "sandbox":
        return ""
    from django.conf import settings
    from django.urls import reverse

    return settings.SITE_URL + reverse("channels_public_urls:push_page", args=[config.webhook_token])


@require_POST
@role_required(Role.MARKETER)
def config_test(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    ok, message = services.channel_config_test(config=config)
    if request.htmx:
        template = "channels/test_badge.html" if request.POST.get("row") else "channels/config_form.html#test-result"
        return render(request, template, {"config": config})
    (messages.success if ok else messages.error)(request, f"{config.name}: {message}")
    if request.POST.get("next") == "index":
        return redirect(tenant_reverse(request.tenant, "channels:index"))
    return redirect(tenant_reverse(request.tenant, "channels:edit", config.pk))


@require_POST
@role_required(Role.ADMIN)
def config_toggle(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    services.channel_config_set_enabled(config=config, enabled=not config.enabled)
    messages.success(request, f"“{config.name}” {'enabled' if config.enabled else 'disabled'}.")
    return redirect(tenant_reverse(request.tenant, "channels:index"))


@require_POST
@role_required(Role.ADMIN)
def config_make_default(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    services.channel_config_make_default(config=config)
    messages.success(request, f"“{config.name}” is now the default for {config.channel_label}.")
    return redirect(tenant_reverse(request.tenant, "channels:index"))


@require_POST
@role_required(Role.ADMIN)
def config_regenerate_token(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    services.channel_config_regenerate_token(config=config)
    messages.warning(request, "New webhook URL created. Update it at the provider: the old one no longer works.")
    return redirect(tenant_reverse(request.tenant, "channels:edit", config.pk))


@require_POST
@role_required(Role.ADMIN)
def config_register_webhook(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    try:
        url = services.channel_config_register_webhook(config=config)
    except services.ChannelConfigError as exc:
        messages.error(request, f"Registering the webhook failed: {exc}")
    else:
        messages.success(request, f"Webhook registered: {config.provider_label} now sends updates to {url}")
    return redirect(tenant_reverse(request.tenant, "channels:edit", config.pk))


@require_POST
@role_required(Role.ADMIN)
def config_delete(request, pk):
    config = get_object_or_404(ChannelConfig, pk=pk)
    name = config.name
    services.channel_config_delete(config=config)
    messages.success(request, f"“{name}” deleted.")
    return redirect(tenant_reverse(request.tenant, "channels:index"))


@require_GET
def outbox(request):
    channel = request.GET.get("channel", "")
    if channel not in CHANNEL_KEYS:
        channel = ""
    before = None
    try:
        cursor = uuid.UUID(request.GET.get("before", ""))
    except ValueError:
        cursor = None  # no or malformed cursor: the first page
    if cursor is not None:
        before = OutboxMessage.objects.filter(pk=cursor).first()
    page, last = selectors.outbox_page(channel=channel, before=before)
    return render(request, "channels/outbox.html", {
        "messages_page": page,
        "next_cursor": last.pk if last else None,
        "channel": channel,
        "channels": [(key, CHANNEL_LABELS[key]) for key in CHANNEL_KEYS],
    })
