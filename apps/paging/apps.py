from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "apps.paging"
    verbose_name = "Paging and escalation"

    def ready(self) -> None:
        # incidents does not know paging: paging hooks itself in through incidents' extension points.
        from apps.incidents.signals import incident_declared, incident_status_changed, notification_acknowledged
        from apps.paging import panels, receivers, renderers  # noqa: F401  (renderers: the words of paging's events)

        incident_declared.connect(receivers.start_paging_on_declare, dispatch_uid="paging.start_on_declare")
        notification_acknowledged.connect(receivers.acknowledge_from_log, dispatch_uid="paging.ack_from_log")
        incident_status_changed.connect(receivers.stop_paging_when_over, dispatch_uid="paging.stop_when_over")
        panels.register()
