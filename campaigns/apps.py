from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from celery.schedules import crontab
        from django.conf import settings

        from campaigns.engine import status  # noqa: F401  (applies provider status events)

        settings.CELERY_BEAT_SCHEDULE["campaigns-scheduler-tick"] = {
            "task": "campaigns.tasks.scheduler_tick_task",
            "schedule": float(settings.ENGINE_TICK_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["campaigns-send-times-refresh"] = {
            "task": "campaigns.tasks.send_times_refresh_all_task",
            "schedule": crontab(hour=2, minute=30),  # UTC, when little else runs
        }
