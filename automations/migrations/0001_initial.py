import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('devices', '0012_delete_automationstate'),
        ('tariffs', '0003_push_half_hour_rates'),
    ]

    # AutomationState moved here from devices: the table stays (db_table), only Django's model
    # state moves (devices 0012 removes it from devices' state, also without touching the table).
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
        migrations.CreateModel(
            name='AutomationState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.PositiveIntegerField(default=0)),
                ('spike_active', models.BooleanField(default=False)),
                ('spike_started_at', models.DateTimeField(blank=True, null=True)),
                ('curtailment_active', models.BooleanField(default=False)),
                ('curtailment_since', models.DateTimeField(blank=True, null=True)),
                ('force_discharge_until', models.DateTimeField(blank=True, null=True)),
                ('saved_operation_mode', models.CharField(blank=True, max_length=32)),
                ('saved_export_rule', models.CharField(blank=True, max_length=32)),
                ('saved_backup_reserve_percent', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('spike_last_interval_end', models.DateTimeField(blank=True, null=True)),
                ('spike_calm_intervals', models.PositiveSmallIntegerField(default=0)),
                ('spike_tariff_half_hour', models.DateTimeField(blank=True, help_text='Start of the half-hour the spike tariff was pushed for.', null=True)),
                ('last_sync_at', models.DateTimeField(blank=True, null=True)),
                ('last_sync_outcome', models.CharField(blank=True, max_length=32)),
                ('last_sync_detail', models.CharField(blank=True, max_length=300)),
                ('curtailment_saved_export_rule', models.CharField(blank=True, help_text="The household's export rule before curtailment.", max_length=32)),
                ('curtailment_calm_intervals', models.PositiveSmallIntegerField(default=0)),
                ('curtailment_last_interval_end', models.DateTimeField(blank=True, help_text='End of the last 5-minute interval counted as calm.', null=True)),
                ('force_toggle_interval_start', models.DateTimeField(blank=True, help_text='Start of the 5-minute interval last toggled for.', null=True)),
                ('force_toggle_restore_due', models.DateTimeField(blank=True, help_text='Set while the battery waits to go back to autonomous.', null=True)),
                ('calibration_until', models.DateTimeField(blank=True, help_text='End of the sample window the weights below are for.', null=True)),
                ('calibration_general_weight', models.FloatField(blank=True, null=True)),
                ('calibration_feed_in_weight', models.FloatField(blank=True, null=True)),
                ('calibration_samples', models.PositiveIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('saved_profile', models.ForeignKey(blank=True, help_text='The tariff the battery had before a spike or force discharge took over.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tariffs.touprofile')),
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='automation_state', to='devices.site')),
            ],
            options={
                'db_table': 'devices_automationstate',
            },
        ),
            ],
        ),
    ]
