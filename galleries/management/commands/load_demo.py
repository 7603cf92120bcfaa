"""``manage.py load_demo``: a demo studio with one published wedding gallery.

Idempotent: every step is an ``ensure_*`` that creates only what is missing, so a second run
changes nothing. Photo rows are made by ``demo_photo_create`` from a deterministic plan; when
photos get real bytes, that one function is what changes (upload a generated image and process
it) while the plan, the progress bar and the idempotence stay as they are.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Role, Studio, User
from galleries import services
from galleries.models import Album, Gallery, Photo

STUDIO_NAME, STUDIO_SLUG = "Demo Studio", "demo"
OWNER_EMAIL, OWNER_PASSWORD = "demo@picpick.example", "demo-password-123"
GALLERY_NAME, GALLERY_SLUG = "Smith & Jones Wedding", "smith-jones-wedding"
EVENT_DATE = dt.date(2025, 6, 14)
# (album name, number of photos, hour the part of the day starts)
ALBUMS = [("Getting Ready", 30, 10), ("Ceremony", 40, 14), ("Reception", 50, 18)]
CAMERAS = ["Canon EOS R5", "Sony ILCE-7M4", "Nikon Z 8"]


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


def demo_photo_create(*, gallery: Gallery, album: Album, spec: DemoPhoto, by: User) -> Photo:
    """One demo photo. Today a metadata row marked ready; later, real processed bytes."""
    return services.photo_create(
        gallery=gallery,
        by=by,
        filename=spec.filename,
        size=spec.size,
        content_type="image/jpeg",
        width=spec.width,
        height=spec.height,
        captured_at=spec.captured_at,
        camera=spec.camera,
        album_id=album.id,
        state=Photo.State.READY,
    )


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
        self.stdout.write(f"Log in as {OWNER_EMAIL} with password {OWNER_PASSWORD}")

    def ensure_photos(self, gallery: Gallery, albums: dict[str, Album], owner: User) -> int:
        existing = set(Photo.objects.filter(gallery=gallery).values_list("filename", flat=True))
        missing = [spec for spec in demo_photo_plan() if spec.filename not in existing]
        for done, spec in enumerate(missing, start=1):
            demo_photo_create(gallery=gallery, album=albums[spec.album], spec=spec, by=owner)
            self.progress(done, len(missing))
        if missing:
            self.stdout.write("")
        return len(missing)

    def progress(self, done: int, total: int, width: int = 30) -> None:
        filled = width * done // total
        bar = "#" * filled + " " * (width - filled)
        self.stdout.write(f"\r[{bar}] {done}/{total}", ending="")
        self.stdout.flush()
