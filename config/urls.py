from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analytics import api_views as analytics_api_views
from analytics import views as analytics_views
from campaigns import public_views as campaign_public_views
from tenants import views as tenant_views

# Everything a tenant owns lives under /t/<tenant_slug>/; TenantMiddleware resolves the slug,
# checks membership (404 for non-members) and enters the tenant's ORM scope.
tenant_patterns = [
    path("", include("analytics.urls")),
    path("", include("tenants.urls")),
    path("audiences/", include("audiences.urls")),
    path("channels/", include("channels.urls")),
    path("social/", include("social_accounts.urls")),
    path("campaigns/", include("campaigns.urls")),
]

urlpatterns = [
    path("", tenant_views.home, name="home"),
    path("healthz", tenant_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", tenant_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("ops/", analytics_views.operations_deployment, name="ops"),
    path("api/v1/conversions", analytics_api_views.conversions, name="api_conversions"),
    path("api/v1/", include("tenants.api_urls")),
    path("api/v1/", include("campaigns.journeys.api_urls")),  # POST /api/v1/events (journey triggers)
    # Public endpoints (no login): provider webhooks, the preference centre, push subscribe page.
    path("hooks/", include("channels.hook_urls")),
    path("push/", include("channels.public_urls")),
    path("p/", include("audiences.public_urls")),
    path("r/", include("analytics.public_urls")),
    # Campaign media for providers to fetch (voice recordings, attachments), by UUID.
    path("m/<uuid:media_id>/<str:filename>", campaign_public_views.media_public, name="media_public"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
]

handler403 = "tenants.views.permission_denied"
handler404 = "tenants.views.page_not_found"
