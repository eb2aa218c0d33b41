from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django_scopes import scope, scopes_disabled

from tenants.models import Membership, Tenant

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TenantMiddleware:
    """Resolve /t/<tenant_slug>/..., check membership and run the view inside the tenant scope.

    - anonymous users go to the login page;
    - an unknown slug or a tenant the user is not a member of answers 404 (the same answer, so
      nobody learns which tenants exist);
    - analysts are read-only: any unsafe method is refused with 403 before a view runs.
    Outside tenant URLs no scope is active, so an accidental tenant-owned query raises; Django
    admin is cross-tenant by design and runs with scopes disabled.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None

        if match is not None and match.namespaces[:1] == ["admin"]:
            with scopes_disabled():
                return self.get_response(request)

        slug = match.kwargs.get("tenant_slug") if match else None
        if slug is None:
            with scope():
                return self.get_response(request)

        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
        if tenant is None:
            raise Http404("No such workspace.")
        with scope(tenant=tenant.pk):
            membership = Membership.objects.filter(user=request.user).first()
            if membership is None:
                raise Http404("No such workspace.")
            membership.tenant = tenant
            request.tenant = tenant
            request.membership = membership
            if request.method not in SAFE_METHODS and not membership.can_edit:
                raise PermissionDenied("Your role is read-only in this workspace.")
            return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Views take the tenant from request.tenant; reverse with tenants.urls.tenant_reverse or
        # the {% turl %} tag, which put the slug back.
        view_kwargs.pop("tenant_slug", None)
        return None
