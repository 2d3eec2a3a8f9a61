from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0011_site_forecast_type_default_from_settings'),
    ]

    # AutomationState moved to the automations app with its table (automations 0001): only
    # Django's model state changes here.
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='AutomationState')],
        ),
    ]
