"""The two processes of the killed-worker test, run as ``python -m`` on a database file.

``process``: migrate, upload a photo of three faces and process it with a decoded hook placed
before the face step that SIGKILLs the process -- so it dies after the ready commit and before
the faces commit, with no cleanup of any kind. ``sweep``: what a later beat run and worker see:
prints the photo's state and faces, runs the face step sweep (tasks eager, as in the tests'
settings) and prints the faces again.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys


def _process() -> None:
    from django.core.management import call_command

    from accounts.models import Role
    from galleries import services
    from galleries.services import processing
    from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory
    from picpick.testing.scenes import build_scene
    from tests.processing.conftest import upload

    call_command("migrate", verbosity=0)
    studio = StudioFactory(slug="killed")
    owner = UserFactory(email="owner@example.com")
    MembershipFactory(studio=studio, user=owner, role=Role.OWNER)
    gallery = services.gallery_create(studio=studio, by=owner, name="Wedding")
    scene = build_scene(seed=11, face_heights=[110, 190, 320], size=(2000, 1333))
    photo = upload(gallery, owner, scene.jpeg())

    def killed(photo, decoded) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    processing.DECODED_HOOKS.insert(0, killed)
    processing.photo_process_ensure(photo_id=photo.id)
    sys.exit("still alive after the ready commit")


def _sweep() -> None:
    from faces.models import Face, PhotoFaceScan
    from faces.pipeline import photos_face_step_sweep
    from galleries.models import Photo

    photo = Photo.objects.get()
    print(f"state_after_kill={photo.state}")
    print(f"faces_after_kill={Face.objects.filter(photo=photo).count()}")
    # The beat comes later than the task's time limit after the ready commit.
    Photo.objects.filter(id=photo.id).update(
        processed_at=photo.processed_at - dt.timedelta(hours=1)
    )
    print(f"queued={photos_face_step_sweep()}")
    print(f"faces_after_sweep={Face.objects.filter(photo=photo).count()}")
    print(f"scan_version={PhotoFaceScan.objects.get(photo=photo).version}")


def main() -> None:
    import django

    django.setup()
    {"process": _process, "sweep": _sweep}[sys.argv[1]]()


if __name__ == "__main__":
    main()
