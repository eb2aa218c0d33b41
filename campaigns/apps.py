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
        # WhatsApp templates in review: Meta and Twilio decide within minutes to days.
        settings.CELERY_BEAT_SCHEDULE["campaigns-templates-sync"] = {
            "task": "campaigns.tasks.templates_sync_all_task",
            "schedule": float(getattr(settings, "TEMPLATE_SYNC_SECONDS", 600)),
        }
        settings.CELERY_BEAT_SCHEDULE["campaigns-send-times-refresh"] = {
            "task": "campaigns.tasks.send_times_refresh_all_task",
            "schedule": crontab(hour=2, minute=30),  # UTC, when little else runs
        }

        # Drip and triggered campaigns (campaigns.journeys): their tasks, the contact-saved
        # receiver, the journey tick and the trigger poll.
        from campaigns.journeys import receivers, tasks  # noqa: F401

        settings.CELERY_BEAT_SCHEDULE["campaigns-journeys-tick"] = {
            "task": "campaigns.journeys.tasks.journeys_tick_task",
            "schedule": 10.0,
        }
        settings.CELERY_BEAT_SCHEDULE["campaigns-triggers-tick"] = {
            "task": "campaigns.journeys.tasks.triggers_tick_task",
            "schedule": 60.0,
        }
