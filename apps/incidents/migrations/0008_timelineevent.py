"""The timeline becomes typed events (kind, actor, references, data); 0009 carries the old entries over."""

import django.db.models.deletion
import django.utils.timezone
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('comms', '0002_updates_append_only'),
        ('health', '0002_host_app_dir_host_services_host_thresholds_and_more'),
        ('incidents', '0007_alter_checklistitem_action'),
        ('paging', '0001_initial'),
        ('remediation', '0003_runlogline_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TimelineEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('declared', 'Declared'), ('status_changed', 'Status changed'), ('severity_changed', 'Severity changed'), ('role_assigned', 'Role assigned'), ('details_changed', 'Details changed'), ('step_done', 'Step done'), ('step_skipped', 'Step skipped'), ('step_reopened', 'Step reopened'), ('note_added', 'Note added'), ('notification_recorded', 'Notification recorded'), ('notification_acknowledged', 'Notification acknowledged'), ('paging_started', 'Paging started'), ('paging_stopped', 'Paging stopped'), ('page_sent', 'Page sent'), ('page_failed', 'Page failed'), ('page_audited', 'Page audited'), ('escalation_step', 'Escalation step'), ('escalated', 'Escalated by hand'), ('repaged', 'Re-paged by hand'), ('nobody_to_page', 'Nobody to page'), ('paging_exhausted', 'Paging exhausted'), ('escalation_late', 'Escalation step late'), ('acknowledged', 'Acknowledged'), ('run_requested', 'Run requested'), ('break_glass', 'Break glass'), ('evidence_overridden', 'Evidence-first overridden'), ('run_approved', 'Run approved'), ('run_rejected', 'Run rejected'), ('run_cancelled', 'Run cancelled'), ('run_started', 'Run started'), ('run_finished', 'Run finished'), ('run_lost', 'Run lost'), ('run_kept', 'Change kept'), ('revert_started', 'Revert timer ran out'), ('revert_superseded', 'Revert timer superseded'), ('update_posted', 'Update posted'), ('update_overdue', 'Update overdue'), ('signal_received', 'Signal received'), ('alert_resolved', 'Alert resolved'), ('signal_attached', 'Signal attached'), ('legacy', 'Earlier entry')], max_length=40)),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('component', models.CharField(blank=True, choices=[('system', 'Incident Center'), ('worker', 'Host worker'), ('sweeper', 'Run sweeper'), ('escalation', 'Escalation'), ('auditor', 'Escalation auditor'), ('webhook', 'Alertmanager webhook'), ('monitor', 'Health monitor'), ('mailer', 'Mailer'), ('cadence', 'Update cadence')], help_text='Who acted when no person did.', max_length=20)),
                ('data', models.JSONField(blank=True, default=dict)),
                ('body', models.TextField(blank=True, help_text="A note's Markdown.", max_length=20000)),
                ('legacy_text', models.CharField(blank=True, help_text='The words of an entry written before kinds.', max_length=500)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('alert_group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='health.alertgroup')),
                ('host', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='health.host')),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='incidents.incident')),
                ('item', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incidents.checklistitem')),
                ('notification', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='incidents.notificationentry')),
                ('page', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='paging.page')),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='remediation.actionrun')),
                ('step', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='paging.escalationstep')),
                ('update', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='comms.update')),
            ],
            options={
                'verbose_name_plural': 'timeline events',
                'ordering': ['-at', '-pk'],
                'abstract': False,
            },
        ),
        migrations.AddIndex(
            model_name='timelineevent',
            index=models.Index(fields=['incident', 'at'], name='event_incident_at'),
        ),
        migrations.AddIndex(
            model_name='timelineevent',
            index=models.Index(fields=['kind', 'at'], name='event_kind_at'),
        ),
        migrations.AddConstraint(
            model_name='timelineevent',
            constraint=models.CheckConstraint(condition=models.Q(('actor__isnull', False), models.Q(('component', ''), _negated=True), _connector='OR'), name='event_has_actor'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='timelineevent',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='584ea6a653b007c3d8cef9253da0d05fb8c03c38', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_44507', table='incidents_timelineevent', when='BEFORE')),
        ),
    ]
