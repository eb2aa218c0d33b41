from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects to channels' signals)
