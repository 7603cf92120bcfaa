"""Keyset pagination: total order, both directions, tamper-proof cursors."""

from __future__ import annotations

import pytest

from galleries.models import Photo
from picpick.core.errors import ApplicationError
from picpick.core.pagination import paginate
from picpick.testing.factories import GalleryFactory, PhotoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def photos(studio_a):
    gallery = GalleryFactory(studio=studio_a)
    # Many equal positions and sizes: the id tie-breaker must keep the order total.
    return [PhotoFactory(gallery=gallery, position=i // 7, size=1000 + (i % 3)) for i in range(53)]


def walk(ordering: list[str], page_size: int) -> tuple[list, list[str | None]]:
    queryset = Photo.objects.all()
    seen, cursor, previous_cursors = [], None, []
    while True:
        page = paginate(queryset, ordering=ordering, cursor=cursor, page_size=page_size)
        seen.extend(page.items)
        previous_cursors.append(page.previous_cursor)
        if not page.next_cursor:
            return seen, previous_cursors
        cursor = page.next_cursor


@pytest.mark.parametrize("ordering", [["position"], ["-position"], ["size", "-position"], ["-id"]])
def test_forward_walk_visits_every_row_once_in_order(photos, ordering):
    seen, _ = walk(ordering, page_size=10)
    # The id tie-breaker follows the direction of the last ordering field.
    tie_breaker = (
        []
        if ordering[-1].lstrip("-") == "id"
        else ["-id" if ordering[-1].startswith("-") else "id"]
    )
    expected = Photo.objects.order_by(*ordering, *tie_breaker)
    assert [p.id for p in seen] == [p.id for p in expected]
    assert len({p.id for p in seen}) == len(photos)


def test_descending_ties_break_on_descending_id(photos):
    seen, _ = walk(["-position"], page_size=9)
    assert [p.id for p in seen] == [p.id for p in Photo.objects.order_by("-position", "-id")]


def test_backward_walk_returns_the_same_pages(photos):
    queryset = Photo.objects.all()
    pages, cursor = [], None
    while True:
        page = paginate(queryset, ordering=["position"], cursor=cursor, page_size=10)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages[0].previous_cursor is None
    # Walk back from the last page with its previous cursors.
    for index in range(len(pages) - 1, 0, -1):
        back = paginate(
            queryset, ordering=["position"], cursor=pages[index].previous_cursor, page_size=10
        )
        assert [p.id for p in back.items] == [p.id for p in pages[index - 1].items]
        assert back.next_cursor is not None
    first_again = paginate(
        queryset, ordering=["position"], cursor=pages[1].previous_cursor, page_size=10
    )
    assert first_again.previous_cursor is None


def test_last_page_has_no_next_cursor_and_first_no_previous(photos):
    page = paginate(Photo.objects.all(), ordering=["position"], cursor=None, page_size=100)
    assert len(page.items) == 53
    assert page.next_cursor is None and page.previous_cursor is None


def test_page_size_is_clamped(photos):
    page = paginate(Photo.objects.all(), ordering=["position"], cursor=None, page_size=0)
    assert len(page.items) == 1


@pytest.mark.parametrize("cursor", ["garbage", "e30", "", "x" * 500])
def test_malformed_cursor_is_a_clean_error(photos, cursor):
    if not cursor:
        return  # empty means "first page"
    with pytest.raises(ApplicationError) as info:
        paginate(Photo.objects.all(), ordering=["position"], cursor=cursor)
    assert info.value.code == "invalid_cursor"


def test_tampered_cursor_is_refused(photos):
    page = paginate(Photo.objects.all(), ordering=["position"], cursor=None, page_size=5)
    tampered = page.next_cursor[:-3] + ("AAA" if page.next_cursor[-3:] != "AAA" else "BBB")
    with pytest.raises(ApplicationError):
        paginate(Photo.objects.all(), ordering=["position"], cursor=tampered)


def test_cursor_of_another_ordering_is_refused(photos):
    page = paginate(Photo.objects.all(), ordering=["position"], cursor=None, page_size=5)
    with pytest.raises(ApplicationError) as info:
        paginate(Photo.objects.all(), ordering=["-size"], cursor=page.next_cursor)
    assert info.value.code == "invalid_cursor"
