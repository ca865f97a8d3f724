"""The run log's append-only trigger is now django-pgtrigger's (declared on the model), replacing
the hand-written one of 0002."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def drop_hand_written_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS remediation_run_log_append_only ON remediation_runlogline;"
            "DROP FUNCTION IF EXISTS remediation_run_log_append_only();"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('remediation', '0002_run_log_append_only'),
    ]

    operations = [
        migrations.RunPython(drop_hand_written_trigger, migrations.RunPython.noop),
        pgtrigger.migrations.AddTrigger(
            model_name='runlogline',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='759e6714496b42bf82bd3b7150e384edde576c26', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_5c2ac', table='remediation_runlogline', when='BEFORE')),
        ),
    ]
