# StudioUsage moves from galleries to accounts (one owner per table): the model's state moves,
# the rows stay, and the table is renamed to the new owner's name.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_studio_logo"),
        ("galleries", "0005_guest_access"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StudioUsage",
                    fields=[
                        (
                            "studio",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="usage",
                                serialize=False,
                                to="accounts.studio",
                            ),
                        ),
                        ("gallery_count", models.PositiveIntegerField(default=0)),
                        ("photo_count", models.PositiveBigIntegerField(default=0)),
                        ("storage_bytes", models.PositiveBigIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name_plural": "studio usage",
                        "db_table": "galleries_studiousage",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="studiousage", table=None),
    ]
