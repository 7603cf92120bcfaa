"""visitors_anonymise: a person's guest rows in one studio lose what names them."""

from __future__ import annotations

import pytest

from guests.models import Favourite, Visitor
from guests.services import visitors_anonymise
from picpick.testing.factories import FavouriteFactory, StudioFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def test_only_the_studios_rows_of_those_emails_change_and_counts_stay():
    studio, other = StudioFactory(), StudioFactory()
    mine = [
        VisitorFactory(gallery__studio=studio, email="ana@example.com", name="Ana", visits=4),
        VisitorFactory(gallery__studio=studio, email="ana@example.com", marketing_opt_in=True),
    ]
    favourite = FavouriteFactory(favourite_list__visitor=mine[0], comment="the third one")
    kept = [
        VisitorFactory(gallery__studio=other, email="ana@example.com", name="Ana"),
        VisitorFactory(gallery__studio=studio, email="bo@example.com", name="Bo"),
    ]
    assert visitors_anonymise(studio=studio, emails=[" ANA@example.com", ""]) == 2
    for before in mine:
        row = Visitor.objects.get(id=before.id)
        assert row.email == f"erased-{row.id.hex}@erased.invalid"
        assert row.name == "" and row.marketing_opt_in is False
        assert row.marketing_opt_in_at is None and row.visits == before.visits
    assert Favourite.objects.get(id=favourite.id).comment == ""
    assert [Visitor.objects.get(id=v.id).name for v in kept] == ["Ana", "Bo"]
    assert visitors_anonymise(studio=studio, emails=[]) == 0
