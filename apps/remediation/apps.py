from django.apps import AppConfig


class RemediationConfig(AppConfig):
    name = "apps.remediation"
    verbose_name = "Remediation"

    def ready(self) -> None:
        from apps.remediation import (
            actions,  # noqa: F401  (fills the catalog)
            panels,
        )

        panels.register()
