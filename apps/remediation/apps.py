from django.apps import AppConfig


class RemediationConfig(AppConfig):
    name = "apps.remediation"
    verbose_name = "Remediation"

    def ready(self) -> None:
        from apps.remediation import (
            actions,  # noqa: F401  (fills the catalog)
            catalog,
            live,
            panels,
            renderers,  # noqa: F401  (words the kinds remediation records)
        )
        from apps.runbooks import step_actions

        panels.register()
        live.register()
        # Runbook steps name their action from this catalog (runbooks cannot import it).
        step_actions.use_catalog(catalog.choices)
