"""On PostgreSQL, the database itself refuses to rewrite or delete updates and the components
they named: a correction is a new update."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLES = ["comms_update", "comms_updatecomponent"]

CREATE = """
CREATE OR REPLACE FUNCTION comms_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stakeholder updates are append-only: post a correction instead';
END;
$$ LANGUAGE plpgsql;
"""
TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION comms_append_only();
"""


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        for table in TABLES:
            schema_editor.execute(TRIGGER.format(table=table))


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        schema_editor.execute("DROP FUNCTION IF EXISTS comms_append_only();")


class Migration(migrations.Migration):
    dependencies = [("comms", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
