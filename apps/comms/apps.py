from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "apps.comms"
    verbose_name = "Stakeholder communications"

    def ready(self) -> None:
        # incidents knows nothing of comms: comms attaches its board reason and incident panel here.
        from apps.comms import panel

        panel.register()
