from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "apps.paging"
    verbose_name = "Paging and escalation"

    def ready(self) -> None:
        # incidents does not know paging: paging hooks itself in through incidents' extension points.
        from apps.incidents.extensions import Panel, register_attention, register_panel
        from apps.incidents.signals import incident_declared, incident_status_changed, notification_acknowledged
        from apps.paging import receivers, renderers, selectors  # noqa: F401  (renderers: the words of paging's events)

        incident_declared.connect(receivers.start_paging_on_declare, dispatch_uid="paging.start_on_declare")
        notification_acknowledged.connect(receivers.acknowledge_from_log, dispatch_uid="paging.ack_from_log")
        incident_status_changed.connect(receivers.stop_paging_when_over, dispatch_uid="paging.stop_when_over")
        register_attention(selectors.attention)
        register_panel(Panel("paging", "paging/_panel.html", selectors.panel_context, order=10))
