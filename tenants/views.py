from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants.decorators import role_required
from tenants.forms import ApiKeyForm, WorkspaceSettingsForm
from tenants.models import ApiKey, Role, Tenant
from tenants.services import api_key_create
from tenants.services import api_key_revoke as revoke_key
from tenants.urls_helpers import tenant_reverse


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@login_required
def home(request):
    """Send the user to their workspace, or let them pick one when they belong to several."""
    workspaces = list(Tenant.objects.filter(memberships__user=request.user, is_active=True).order_by("name"))
    if len(workspaces) == 1:
        return redirect(tenant_reverse(workspaces[0], "analytics:dashboard"))
    return render(request, "tenants/choose_workspace.html", {"choices": workspaces})


@require_http_methods(["GET", "POST"])
def workspace_settings(request):
    tenant = request.tenant
    can_edit = request.membership.is_admin
    form = WorkspaceSettingsForm(request.POST or None, instance=tenant)
    if request.method == "POST":
        if not can_edit:
            return permission_denied(request, None)
        if form.is_valid():
            form.save()
            messages.success(request, "Workspace settings saved.")
            return redirect(tenant_reverse(form.instance, "tenants:settings"))
    members = request.tenant.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "tenants/settings.html",
        {"form": form, "can_edit": can_edit, "members": members, "Role": Role},
    )


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def api_key_list(request):
    new_key = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        api_key, new_key = api_key_create(tenant=request.tenant, name=form.cleaned_data["name"], actor=request.user)
        messages.success(request, f"API key “{api_key.name}” created. Copy it now: it won't be shown again.")
        form = ApiKeyForm()
    keys = ApiKey.objects.select_related("created_by").all()
    return render(request, "tenants/api_keys.html", {"form": form, "keys": keys, "new_key": new_key})


@require_POST
@role_required(Role.ADMIN)
def api_key_revoke(request, key_id):
    api_key = get_object_or_404(ApiKey, pk=key_id)
    if revoke_key(api_key=api_key):
        messages.success(request, f"API key “{api_key.name}” revoked. Requests using it now get 401.")
    else:
        messages.info(request, f"API key “{api_key.name}” was already revoked.")
    return redirect(tenant_reverse(request.tenant, "tenants:api_keys"))


def permission_denied(request, exception):
    reason = str(exception) if exception else "You don't have permission to do that."
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request, exception):
    return render(request, "404.html", status=404)
