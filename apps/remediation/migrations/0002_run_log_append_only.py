"""On PostgreSQL, the database itself refuses to rewrite or delete a run's log."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE OR REPLACE FUNCTION remediation_run_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'action run log lines are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER remediation_run_log_append_only
    BEFORE UPDATE OR DELETE ON remediation_runlogline
    FOR EACH ROW EXECUTE FUNCTION remediation_run_log_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS remediation_run_log_append_only ON remediation_runlogline;
DROP FUNCTION IF EXISTS remediation_run_log_append_only();
"""


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("remediation", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
