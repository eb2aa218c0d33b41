from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class ChannelsConfig(AppConfig):
    name = "channels"
    label = "channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from channels.crypto import check_encryption_keys

        checks.register(check_encryption_keys, checks.Tags.security)
        settings.CELERY_BEAT_SCHEDULE["channels-prune-webhook-events"] = {
            "task": "channels.tasks.webhook_events_prune_task",
            "schedule": 6 * 3600.0,
        }
