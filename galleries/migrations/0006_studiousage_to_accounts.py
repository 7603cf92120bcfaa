# StudioUsage now belongs to accounts (accounts.0004 took over the model and its rows).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("galleries", "0005_guest_access"),
        ("accounts", "0004_studiousage"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="StudioUsage")],
            database_operations=[],
        ),
    ]
