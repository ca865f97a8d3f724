"""The old text timeline is gone once its entries are events (0009). Dropping the table drops its
hand-written trigger; its function goes too."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def drop_trigger_function(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS incidents_timeline_append_only() CASCADE;")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_timeline_entries_to_events")]

    operations = [
        migrations.RunPython(drop_trigger_function, migrations.RunPython.noop),
        migrations.DeleteModel(name="TimelineEntry"),
    ]
