from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("galleries", "0002_media_pipeline"),
    ]

    operations = [
        migrations.AddField(
            model_name="downloadjob",
            name="files_skipped",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
