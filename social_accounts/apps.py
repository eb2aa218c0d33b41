from __future__ import annotations

from django.apps import AppConfig


class SocialAccountsConfig(AppConfig):
    name = "social_accounts"
    verbose_name = "Social accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # Hourly: re-check every connected account and flag tokens that expire within 7 days.
        settings.CELERY_BEAT_SCHEDULE["social-accounts-recheck"] = {
            "task": "social_accounts.tasks.social_accounts_recheck_all_task",
            "schedule": 3600.0,
        }
