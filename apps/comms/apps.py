from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "apps.comms"
    verbose_name = "Stakeholder communications"

    def ready(self) -> None:
        # incidents knows nothing of comms: comms attaches its board reason and incident panel,
        # and words the timeline events it records, from here.
        from apps.comms import (
            panels,
            renderers,  # noqa: F401  (words the kinds comms records)
        )

        panels.register()
