"""Rows the benchmarks start from: a studio with its owner, and ready photos in bulk.

Built with the factories the tests use (``picpick.testing.factories``), so a benchmark's rows are
as valid as a test's. Call after ``bench.django_env.setup()`` (the factories import models).
"""

from __future__ import annotations

from collections.abc import Sequence

BENCH_PASSWORD = "bench-password-not-secret"


def studio_with_owner(*, slug: str, name: str = "Bench Studio", **fields):
    """A studio and its owner (``owner@bench.example``), a member with the owner role."""
    from accounts.models import Role
    from picpick.testing.factories import MembershipFactory, StudioFactory, UserFactory

    studio = StudioFactory(name=name, slug=slug, **fields)
    owner = UserFactory(email="owner@bench.example", password=BENCH_PASSWORD)
    MembershipFactory(studio=studio, user=owner, role=Role.OWNER)
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
    from picpick.testing.factories import PhotoFactory

    width, height, nbytes = derivative_shape
    photos = [
        PhotoFactory.build(
            studio=studio,
            gallery=gallery,
            filename=f"IMG_{n:05d}.jpg",
            size=3_000_000 + n if size is None else size,
            width=6000,
            height=4000,
            position=n,
        )
        for n in range(count)
    ]
    for photo in photos:
        photo.derivatives = {
            name: {
                "key": derivative_key(studio.id, gallery.id, photo.id, name),
                "width": width,
                "height": height,
                "bytes": nbytes,
            }
            for name in derivatives
        }
    return photos
