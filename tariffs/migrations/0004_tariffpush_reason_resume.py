
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tariffs', '0003_push_half_hour_rates'),
    ]

    operations = [
        migrations.AlterField(
            model_name='tariffpush',
            name='reason',
            field=models.CharField(choices=[('forecast', 'Interval start (forecast prices)'), ('settled', 'Settled prices arrived'), ('manual', 'Sync requested'), ('spike', 'AEMO spike'), ('spike_restore', 'Spike over: restore'), ('force_discharge', 'Force discharge'), ('restore', 'Restore after force discharge'), ('profile', 'Saved profile restored'), ('custom', 'Custom schedule'), ('resume', 'Live prices take the tariff')], max_length=24),
        ),
    ]
