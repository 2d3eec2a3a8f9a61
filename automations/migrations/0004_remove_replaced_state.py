from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('automations', '0003_intents_from_automation_state'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='automationstate',
            name='curtailment_active',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='curtailment_saved_export_rule',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='curtailment_since',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='force_discharge_until',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='force_toggle_restore_due',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='saved_backup_reserve_percent',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='saved_export_rule',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='saved_operation_mode',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='saved_profile',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='spike_active',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='spike_started_at',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='spike_tariff_half_hour',
        ),
        migrations.RemoveField(
            model_name='automationstate',
            name='version',
        ),
    ]
