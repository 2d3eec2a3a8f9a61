
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('households', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='intent',
            field=models.CharField(blank=True, help_text='The intent the decision was made for, if any.', max_length=24),
        ),
        migrations.AlterField(
            model_name='event',
            name='automation',
            field=models.CharField(choices=[('tou_sync', 'TOU sync'), ('spike', 'AEMO spike'), ('curtailment', 'Solar curtailment'), ('force_toggle', 'Force mode toggle'), ('force_discharge', 'Force discharge'), ('energy', 'Energy monitoring'), ('demand', 'Demand tracking'), ('token_refresh', 'Token refresh'), ('household', 'Household'), ('operator', 'Operator'), ('system', 'System')], max_length=24),
        ),
    ]
