from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "apps.incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from apps.incidents import (
            live,
            renderers,  # noqa: F401  (words the kinds incidents records)
        )

        live.register()
