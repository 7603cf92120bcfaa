"""Photos processed before face scans were recorded count as scanned by the first version.

Without this every such photo would read as "not yet searched for faces" (the People API's
grouping state would say pending) until the sweep reached it. Version 1 is older than the
current step, so the sweep still re-runs them all, a batch at a time -- which also gives back
the faces of any photo that lost its face step before the scans existed.
"""

from django.db import migrations

BATCH = 1000


def backfill(apps, schema_editor):
    Photo = apps.get_model("galleries", "Photo")
    PhotoFaceScan = apps.get_model("faces", "PhotoFaceScan")
    photos = (
        Photo.objects.filter(
            state="ready",
            gallery__face_recognition_enabled=True,
            studio__face_recognition_enabled=True,
            face_scan__isnull=True,
        )
        .order_by("id")
        .values_list("id", "studio_id", "gallery_id", "processed_at")
    )
    batch = []
    for photo_id, studio_id, gallery_id, processed_at in photos.iterator(chunk_size=BATCH):
        batch.append(
            PhotoFaceScan(
                photo_id=photo_id,
                studio_id=studio_id,
                gallery_id=gallery_id,
                version=1,
                scanned_at=processed_at,
            )
        )
        if len(batch) == BATCH:
            PhotoFaceScan.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PhotoFaceScan.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("faces", "0002_photo_face_scan"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
