"""``manage.py storage_lifecycle_ensure``: the bucket's lifecycle rules, from the settings.

Run at every deploy (and by hand after changing ``PICPICK_ARCHIVE_*``): objects tagged
``archived=true`` (originals of archived galleries) move to ``PICPICK_ARCHIVE_STORAGE_CLASS``
once ``PICPICK_ARCHIVE_TRANSITION_DAYS`` old, and multipart uploads left incomplete for
``PICPICK_ABORT_INCOMPLETE_MULTIPART_DAYS`` are aborted. Idempotent: rules already in place
are not rewritten, and rules added to the bucket by hand are kept.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from galleries.services.storage_lifecycle import ARCHIVE_TAG, storage_lifecycle_ensure


class Command(BaseCommand):
    help = "Apply the storage lifecycle rules (archive transition, incomplete-upload abort)."

    def handle(self, *args, **options) -> None:
        storage_lifecycle_ensure()
        self.stdout.write(
            f"lifecycle ensured on the {settings.PICPICK_STORAGE} storage: {ARCHIVE_TAG} -> "
            f"{settings.PICPICK_ARCHIVE_STORAGE_CLASS} after "
            f"{settings.PICPICK_ARCHIVE_TRANSITION_DAYS} days; incomplete uploads aborted after "
            f"{settings.PICPICK_ABORT_INCOMPLETE_MULTIPART_DAYS} days"
        )
