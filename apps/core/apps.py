import os
import sys

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = "Core"

    def ready(self) -> None:
        from apps.core.jobs import start_beat_if_serving

        start_beat_if_serving(sys.argv, dict(os.environ))
