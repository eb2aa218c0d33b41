"""Demo workspaces and logins for `manage.py seed_demo` (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from tenants.models import Membership, Role, Tenant
from tenants.scoping import tenant_scope

DEMO_PASSWORD = "demo-pass-2026"


@dataclass(frozen=True)
class DemoTenant:
    name: str
    slug: str
    timezone: str
    region: str
    currency: str
    cities: tuple[tuple[str, str], ...]  # (city, pincode prefix)


DEMO_TENANTS = (
    DemoTenant(
        "Acme Retail", "acme", "Asia/Kolkata", "IN", "INR",
        (("Mumbai", "400"), ("Delhi", "110"), ("Bengaluru", "560"), ("Chennai", "600"), ("Pune", "411"), ("Hyderabad", "500")),
    ),
    DemoTenant(
        "Globex Services", "globex", "America/New_York", "US", "USD",
        (("New York", "100"), ("Boston", "021"), ("Chicago", "606"), ("Miami", "331"), ("Seattle", "981"), ("Austin", "787")),
    ),
)


def seed_tenants() -> list[tuple[Tenant, DemoTenant, dict[str, object]]]:
    """Create the demo tenants, an admin and a marketer login each; return them with their users."""
    User = get_user_model()
    result = []
    for spec in DEMO_TENANTS:
        tenant, _ = Tenant.objects.update_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name, "timezone": spec.timezone, "default_phone_region": spec.region,
                "currency": spec.currency, "campaigns_enabled": True, "ai_enabled": True,
            },
        )
        users = {}
        for role in (Role.ADMIN, Role.MARKETER):
            username = f"{spec.slug}-{role.value}"
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@example.com", "first_name": spec.name.split()[0], "last_name": role.label},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            with tenant_scope(tenant):
                Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
            users[role.value] = user
        result.append((tenant, spec, users))
    return result


def seed_superuser() -> None:
    User = get_user_model()
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
