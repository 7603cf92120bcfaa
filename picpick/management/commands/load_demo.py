"""``manage.py load_demo``: a demo studio with one published wedding gallery of real photos.

Idempotent: every step is an ``ensure_*`` that creates only what is missing, so a second run
changes nothing. Photos follow a deterministic plan; each gets a generated JPEG (24 distinct
pictures, with the plan's capture time and camera in its EXIF, portrait ones stored sideways
with an EXIF orientation as cameras do), stored as its original through the storage interface
and processed by the same service the ``photo_process`` task calls, so ``make run`` starts with
thumbnails and previews. Real portraits are pasted into some pictures when the shared face
photos are beside the repository (``PICPICK_FACES_DIR``); otherwise guests are drawn.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass
from functools import cache

from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image

from accounts.models import Membership, Role, Studio, User
from domains.selectors import studio_site_url
from galleries import keys, services
from galleries.demo_images import demo_image, faces_dir, portraits
from galleries.models import Album, Gallery, Photo
from galleries.services.processing import photo_process_ensure
from picpick.core.storage import get_storage
from picpick.management.demo_billing import ensure_billing
from picpick.management.demo_crm import ensure_crm
from picpick.management.demo_invoicing import ensure_invoicing

STUDIO_NAME, STUDIO_SLUG = "Demo Studio", "demo"
OWNER_EMAIL, OWNER_PASSWORD = "demo@picpick.example", "demo-password-123"
GALLERY_NAME, GALLERY_SLUG = "Smith & Jones Wedding", "smith-jones-wedding"
EVENT_DATE = dt.date(2025, 6, 14)
# (album name, number of photos, hour the part of the day starts)
ALBUMS = [("Getting Ready", 30, 10), ("Ceremony", 40, 14), ("Reception", 50, 18)]
CAMERAS = ["Canon EOS R5", "Sony ILCE-7M4", "Nikon Z 8"]
# 24 distinct pictures shared by the ~120 photos; 3000×2000 keeps the demo's storage modest.
DEMO_PICTURES = 24
DEMO_IMAGE_SIZE = (3000, 2000)


@dataclass(frozen=True)
class DemoPhoto:
    filename: str
    album: str
    size: int
    width: int
    height: int
    captured_at: dt.datetime
    camera: str


def demo_photo_plan() -> list[DemoPhoto]:
    """The same ~120 photos on every run (seeded), so re-runs can tell what exists."""
    rng = random.Random(20250614)
    plan: list[DemoPhoto] = []
    number = 1
    for album, count, hour in ALBUMS:
        moment = dt.datetime.combine(EVENT_DATE, dt.time(hour), tzinfo=dt.UTC)
        for _ in range(count):
            moment += dt.timedelta(seconds=rng.randint(20, 240))
            portrait = rng.random() < 0.3
            width, height = (5464, 8192) if portrait else (8192, 5464)
            plan.append(
                DemoPhoto(
                    filename=f"DSC_{number:04d}.jpg",
                    album=album,
                    size=rng.randint(8_000_000, 24_000_000),
                    width=width,
                    height=height,
                    captured_at=moment,
                    camera=rng.choice(CAMERAS),
                )
            )
            number += 1
    return plan


def ensure_studio() -> Studio:
    studio, _ = Studio.objects.get_or_create(slug=STUDIO_SLUG, defaults={"name": STUDIO_NAME})
    return studio


def ensure_owner(studio: Studio) -> User:
    user = User.objects.filter(email=OWNER_EMAIL).first()
    if user is None:
        user = User.objects.create_user(OWNER_EMAIL, OWNER_PASSWORD, full_name="Demo Owner")
    Membership.objects.get_or_create(studio=studio, user=user, defaults={"role": Role.OWNER})
    return user


def ensure_gallery(studio: Studio, owner: User) -> Gallery:
    gallery = Gallery.objects.filter(studio=studio, slug=GALLERY_SLUG).first()
    if gallery is None:
        gallery = services.gallery_create(
            studio=studio,
            by=owner,
            name=GALLERY_NAME,
            slug=GALLERY_SLUG,
            event_date=EVENT_DATE,
            tags=["wedding", "demo"],
            notes="Demo gallery made by manage.py load_demo.",
        )
    gallery.studio = studio
    return gallery


def ensure_albums(gallery: Gallery, owner: User) -> dict[str, Album]:
    albums = {album.name: album for album in Album.objects.filter(gallery=gallery)}
    for name, _, _ in ALBUMS:
        if name not in albums:
            albums[name] = services.album_create(gallery=gallery, by=owner, name=name)
    return albums


@cache
def demo_picture(index: int, size: tuple[int, int], portrait: bool = False) -> bytes:
    """The ``index``-th picture as a JPEG without EXIF (made once per run). A portrait is
    drawn upright and stored turned a quarter left, to be viewed with EXIF orientation 6."""
    if portrait:
        image = demo_image(index, (size[1], size[0]), _faces())
        image = image.transpose(Image.Transpose.ROTATE_90)
    else:
        image = demo_image(index, size, _faces())
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


@cache
def _faces() -> list[Image.Image]:
    return portraits(faces_dir())


def _with_exif(jpeg: bytes, exif: Image.Exif) -> bytes:
    """``jpeg`` with an EXIF segment inserted after its JFIF header (no re-encoding)."""
    payload = exif.tobytes()  # starts with b"Exif\0\0"
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    app0_end = 2 + 2 + int.from_bytes(jpeg[4:6], "big") if jpeg[2:4] == b"\xff\xe0" else 2
    return jpeg[:app0_end] + segment + jpeg[app0_end:]


def demo_photo_bytes(index: int, spec: DemoPhoto) -> bytes:
    """What a camera would have written for this photo of the plan."""
    exif = Image.Exif()
    make, _, model = spec.camera.partition(" ")
    exif[0x010F] = {"Sony": "SONY", "Nikon": "NIKON CORPORATION"}.get(make, make)
    exif[0x0110] = spec.camera if make == "Canon" else model
    # A portrait is stored sideways with "rotate 90° clockwise to view", as cameras do.
    exif[0x0112] = 6 if spec.height > spec.width else 1
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = spec.captured_at.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = spec.captured_at.strftime("%z")[:3] + ":" + spec.captured_at.strftime("%z")[3:]
    picture = demo_picture(index % DEMO_PICTURES, DEMO_IMAGE_SIZE, spec.height > spec.width)
    return _with_exif(picture, exif)


def demo_photo_create(
    *, gallery: Gallery, album: Album, spec: DemoPhoto, index: int, by: User
) -> Photo:
    """One demo photo as an upload makes it: a row, its original in storage, ``uploaded``."""
    data = demo_photo_bytes(index, spec)
    photo = services.photo_create(
        gallery=gallery,
        by=by,
        filename=spec.filename,
        size=len(data),
        content_type="image/jpeg",
        album_id=album.id,
        state=Photo.State.PENDING,
    )
    demo_photo_upload(photo=photo, data=data)
    return photo


def demo_photo_upload(*, photo: Photo, data: bytes) -> None:
    photo.original_key = keys.original_key(
        photo.studio_id, photo.gallery_id, photo.id, photo.filename
    )
    get_storage().put_object(key=photo.original_key, body=data, content_type="image/jpeg")
    photo.state = Photo.State.UPLOADED
    photo.save(update_fields=["original_key", "state", "updated_at"])


class Command(BaseCommand):
    help = "Create a demo studio, owner and published wedding gallery (safe to run twice)."

    def handle(self, *args, **options):
        with transaction.atomic():
            studio = ensure_studio()
            owner = ensure_owner(studio)
            gallery = ensure_gallery(studio, owner)
            albums = ensure_albums(gallery, owner)
        created = self.ensure_photos(gallery, albums, owner)
        gallery.refresh_from_db()
        gallery.studio = studio
        if gallery.status == Gallery.Status.DRAFT:
            gallery = services.gallery_publish(gallery=gallery, by=owner)
        if gallery.cover_photo_id is None:  # never overwrite a cover somebody chose
            first = Photo.objects.filter(gallery=gallery).order_by("position", "id").first()
            if first is not None:
                services.gallery_update(
                    gallery=gallery, by=owner, changes={"cover_photo_id": first.id}
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: studio {STUDIO_NAME!r} ({STUDIO_SLUG}), gallery {GALLERY_NAME!r} "
                f"with {gallery.photo_count} photos ({created} new)."
            )
        )
        self.stdout.write(ensure_crm(studio=studio, owner=owner, gallery=gallery))
        self.stdout.write(ensure_billing(studio=studio, owner=owner))
        self.stdout.write(ensure_invoicing(studio=studio, owner=owner))
        self.stdout.write(f"Log in as {OWNER_EMAIL} with password {OWNER_PASSWORD}")
        site = studio_site_url(studio=studio)
        self.stdout.write(f"Guests: {site}/ (studio home) and {site}/g/{gallery.slug}/")

    def ensure_photos(self, gallery: Gallery, albums: dict[str, Album], owner: User) -> int:
        """Create the missing photos and finish any an interrupted run left unprocessed."""
        existing = {photo.filename: photo for photo in Photo.objects.filter(gallery=gallery)}
        plan = list(enumerate(demo_photo_plan()))
        todo = [
            (index, spec)
            for index, spec in plan
            if spec.filename not in existing or existing[spec.filename].state != Photo.State.READY
        ]
        created = 0
        for done, (index, spec) in enumerate(todo, start=1):
            photo = existing.get(spec.filename)
            if photo is None:
                photo = demo_photo_create(
                    gallery=gallery, album=albums[spec.album], spec=spec, index=index, by=owner
                )
                created += 1
            elif photo.state in (Photo.State.PENDING, Photo.State.FAILED):
                demo_photo_upload(photo=photo, data=demo_photo_bytes(index, spec))
            # The same service the photo_process task calls; "processing" left by a killed
            # run is the sweeper's (it is reset after the time limit).
            photo_process_ensure(photo_id=photo.id)
            self.progress(done, len(todo))
        if todo:
            self.stdout.write("")
        return created

    def progress(self, done: int, total: int, width: int = 30) -> None:
        filled = width * done // total
        bar = "#" * filled + " " * (width - filled)
        self.stdout.write(f"\r[{bar}] {done}/{total}", ending="")
        self.stdout.flush()
