"""Rows the benchmarks start from: a studio with its owner, and ready photos in bulk.

Call after ``bench.django_env.setup()`` (the models are imported inside).
"""

from __future__ import annotations

from collections.abc import Sequence

BENCH_PASSWORD = "bench-password-not-secret"


def studio_with_owner(*, slug: str, name: str = "Bench Studio", **fields):
    """A studio and its owner (``owner@bench.example``), a member with the owner role."""
    from accounts.models import Membership, Role, Studio, User

    studio = Studio.objects.create(name=name, slug=slug, **fields)
    owner = User.objects.create_user("owner@bench.example", BENCH_PASSWORD)
    Membership.objects.create(studio=studio, user=owner, role=Role.OWNER)
    return studio, owner


def ready_photos(
    studio,
    gallery,
    count: int,
    *,
    size: int | None = None,
    derivatives: Sequence[str] = (),
    derivative_shape: tuple[int, int, int] = (2048, 1365, 400_000),
) -> list:
    """``count`` unsaved, processed 24 MP photos at positions 0…count-1, with derivative
    entries (``(width, height, bytes)`` each) for the names in ``derivatives``."""
    from galleries.keys import derivative_key
    from galleries.models import Photo

    width, height, nbytes = derivative_shape
    photos = []
    for n in range(count):
        photo = Photo(
            studio=studio,
            gallery=gallery,
            filename=f"IMG_{n:05d}.jpg",
            size=3_000_000 + n if size is None else size,
            content_type="image/jpeg",
            width=6000,
            height=4000,
            state=Photo.State.READY,
            position=n,
        )
        photo.derivatives = {
            name: {
                "key": derivative_key(studio.id, gallery.id, photo.id, name),
                "width": width,
                "height": height,
                "bytes": nbytes,
            }
            for name in derivatives
        }
        photos.append(photo)
    return photos
