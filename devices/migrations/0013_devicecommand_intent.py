
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0012_delete_automationstate'),
    ]

    operations = [
        migrations.AddField(
            model_name='devicecommand',
            name='intent',
            field=models.CharField(blank=True, help_text='The intent whose desired state caused it.', max_length=24),
        ),
    ]
