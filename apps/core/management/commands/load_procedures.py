from django.core.management.base import BaseCommand

from apps.runbooks.services import procedures_load


class Command(BaseCommand):
    help = "Load the emergency procedures (contact roles, escalation path, runbooks) if missing. Idempotent."

    def handle(self, *args: object, **options: object) -> None:
        runbooks = procedures_load()
        self.stdout.write(self.style.SUCCESS(f"Procedures ready: {len(runbooks)} runbooks."))
