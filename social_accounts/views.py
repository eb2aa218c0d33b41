"""Social accounts pages under /t/<slug>/social/: list with status badges, connect, test, edit.

Admins connect and change accounts (credentials are write-only); marketers can run a connection
test; analysts read. Every page shows the expired/disconnected banner.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from social_accounts import services
from social_accounts.forms import SocialAccountForm
from social_accounts.models import SocialAccount
from tenants.decorators import flag_required, role_required
from tenants.models import Role
from tenants.urls_helpers import tenant_reverse

social_flag = flag_required("social_enabled", title="The social channel")


@require_GET
@social_flag
def index(request):
    accounts = SocialAccount.objects.all()
    return render(request, "social_accounts/index.html", {
        "accounts": accounts,
        "can_admin": request.membership.is_admin,
        "can_test": request.membership.can_edit,
    })


@sensitive_variables("form")
@sensitive_post_parameters("access_token")
@require_http_methods(["GET", "POST"])
@social_flag
@role_required(Role.ADMIN)
def connect(request):
    form = SocialAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = services.social_account_connect(
                tenant=request.tenant, platform=data["platform"], handle=data["handle"],
                account_id=data["account_id"], credentials={"access_token": data["access_token"]},
                token_expires_at=data["token_expires_at"],
            )
        except services.SocialAccountError as exc:
            form.add_error("handle", str(exc))
        else:
            _flash_status(request, account)
            return redirect(tenant_reverse(request.tenant, "social_accounts:detail", account.pk))
    return render(request, "social_accounts/form.html", {"form": form, "account": None})


@sensitive_variables("form")
@sensitive_post_parameters("access_token")
@require_http_methods(["GET", "POST"])
@social_flag
def detail(request, pk):
    account = get_object_or_404(SocialAccount, pk=pk)
    can_admin = request.membership.is_admin
    if request.method == "POST" and not can_admin:
        raise PermissionDenied("Changing a social account needs the Admin role.")
    form = SocialAccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.social_account_update(
                account=account, handle=data["handle"], account_id=data["account_id"],
                credentials={"access_token": data["access_token"]}, token_expires_at=data["token_expires_at"],
            )
        except services.SocialAccountError as exc:
            form.add_error("handle", str(exc))
        else:
            _flash_status(request, account)
            return redirect(tenant_reverse(request.tenant, "social_accounts:detail", account.pk))
    return render(request, "social_accounts/form.html", {
        "form": form, "account": account, "can_admin": can_admin, "can_test": request.membership.can_edit,
    })


@require_POST
@social_flag
@role_required(Role.MARKETER)
def test_connection(request, pk):
    account = get_object_or_404(SocialAccount, pk=pk)
    services.social_account_check(account=account)
    if request.htmx:
        return render(request, "social_accounts/status.html", {"account": account})
    _flash_status(request, account)
    if request.POST.get("next") == "index":
        return redirect(tenant_reverse(request.tenant, "social_accounts:index"))
    return redirect(tenant_reverse(request.tenant, "social_accounts:detail", account.pk))


@require_POST
@social_flag
@role_required(Role.ADMIN)
def disconnect(request, pk):
    account = get_object_or_404(SocialAccount, pk=pk)
    services.social_account_disconnect(account=account)
    messages.success(request, f"{account} disconnected: its credentials were erased.")
    return redirect(tenant_reverse(request.tenant, "social_accounts:detail", account.pk))


@require_POST
@social_flag
@role_required(Role.ADMIN)
def delete(request, pk):
    account = get_object_or_404(SocialAccount, pk=pk)
    services.social_account_delete(account=account)
    messages.success(request, f"{account} removed.")
    return redirect(tenant_reverse(request.tenant, "social_accounts:index"))


def _flash_status(request, account: SocialAccount) -> None:
    if account.status == "connected":
        messages.success(request, f"{account}: {account.status_message}")
    else:
        messages.error(request, f"{account} is {account.get_status_display().lower()}: {account.status_message}")
