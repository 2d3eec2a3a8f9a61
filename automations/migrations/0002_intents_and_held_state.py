import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automations', '0001_initial'),
        ('devices', '0013_devicecommand_intent'),
        ('tariffs', '0004_tariffpush_reason_resume'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='automationstate',
            name='intent_kinds',
            field=models.CharField(blank=True, help_text="The site's active intent kinds, comma-separated (kept by automations.intents with the rows, under this row's lock): a reconcile of a site with live price sync alone reads no intent rows.", max_length=200),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='export_rule_owner',
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='held_export_rule',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='held_operation_mode',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='held_tariff_fingerprint',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='held_unsure',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='household_export_rule',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='household_operation_mode',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='in_step',
            field=models.BooleanField(default=True, help_text='The last reconcile left the Powerwall as the intents want it.'),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='last_reconcile_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='last_reconcile_detail',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='last_reconcile_outcome',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='operation_mode_owner',
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='paused_plan',
            field=models.CharField(blank=True, help_text='Key of what a paused site would do, logged once.', max_length=64),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='tariff_backup',
            field=models.ForeignKey(blank=True, help_text='The tariff the Powerwall held before a spike or force discharge took it over.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tariffs.touprofile'),
        ),
        migrations.AddField(
            model_name='automationstate',
            name='tariff_owner',
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.CreateModel(
            name='SiteIntent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('operator_hold', 'Operator hold'), ('force_discharge', 'Force discharge'), ('spike', 'Spike response'), ('curtailment', 'Solar curtailment'), ('household_hold', 'Your held tariff'), ('force_toggle', 'Force mode toggle'), ('routine', 'Live price sync'), ('household', 'Your own settings')], max_length=24)),
                ('active', models.BooleanField(default=False)),
                ('since', models.DateTimeField(blank=True, null=True)),
                ('until', models.DateTimeField(blank=True, help_text='When it ends by itself (empty: until it is cleared).', null=True)),
                ('why', models.CharField(blank=True, max_length=300)),
                ('data', models.JSONField(blank=True, default=dict)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='intents', to='devices.site')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('active', True)), fields=['until'], name='site_intent_active_until')],
                'constraints': [models.UniqueConstraint(fields=('site', 'kind'), name='site_intent_one_per_kind'), models.CheckConstraint(condition=models.Q(('kind', 'operator_hold'), _negated=True), name='site_intent_not_operator_hold')],
            },
        ),
        migrations.CreateModel(
            name='WritePause',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('fleet', 'Every site'), ('region', 'One NEM region'), ('site', 'One site')], max_length=8)),
                ('region', models.CharField(blank=True, choices=[('NSW1', 'New South Wales'), ('QLD1', 'Queensland'), ('VIC1', 'Victoria'), ('SA1', 'South Australia'), ('TAS1', 'Tasmania')], max_length=8)),
                ('reason', models.CharField(max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='write_pauses', to='devices.site')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(condition=models.Q(('ended_at', None)), fields=['scope'], name='write_pause_active')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('region', ''), ('scope', 'fleet'), ('site__isnull', True)), models.Q(('region__gt', ''), ('scope', 'region'), ('site__isnull', True)), models.Q(('region', ''), ('scope', 'site'), ('site__isnull', False)), _connector='OR'), name='write_pause_scope_complete')],
            },
        ),
    ]
