from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from django.conf import settings

        from . import (
            receivers,  # noqa: F401  (connects to channels' signals)
            receivers_telegram,  # noqa: F401  (groups and subscribers from Telegram updates)
        )

        # Member counts drift as people join and leave; Telegram sends no update for that.
        settings.CELERY_BEAT_SCHEDULE["audiences-telegram-chats-refresh"] = {
            "task": "audiences.tasks.telegram_chats_refresh_all_task",
            "schedule": 6 * 3600.0,
        }
