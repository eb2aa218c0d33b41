from __future__ import annotations

import importlib
import random

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.demo import DEMO_PASSWORD, seed_superuser, seed_tenants
from tenants.scoping import tenant_scope


class Command(BaseCommand):
    help = (
        "Load demo workspaces, logins and data. Idempotent: running it again changes nothing. "
        "Each app may provide <app>/demo.py with seed(*, tenant, spec, users, rng)."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            seed_superuser()
            seeded = seed_tenants()
            hooks = self._app_hooks()
            for tenant, spec, users in seeded:
                # Seeded per tenant so each run produces the same rows (idempotent upserts).
                rng = random.Random(f"demo-{tenant.slug}")
                with tenant_scope(tenant):
                    for hook in hooks:
                        hook(tenant=tenant, spec=spec, users=users, rng=rng)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for tenant, _spec, users in seeded:
            for role, user in users.items():
                self.stdout.write(f"  {tenant.name:<16} {role:<9} {user.username}")
        self.stdout.write(f"  {'System admin':<16} {'superuser':<9} admin  (/admin/)")

    @staticmethod
    def _app_hooks():
        hooks = []
        for config in apps.get_app_configs():
            if config.name == "tenants":
                continue
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            hooks.append(module.seed)
        return hooks
