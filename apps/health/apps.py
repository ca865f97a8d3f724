from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "apps.health"
    verbose_name = "Health"

    def ready(self) -> None:
        from apps.health import (
            live,
            panels,
            renderers,  # noqa: F401  (words the kinds health records)
        )

        panels.register()
        live.register()
