"""Contacts racing on MariaDB's row locks and unique indexes.

Two requests adding the same email both pass the "is it taken?" check; the unique index
``(studio, email)`` lets one insert through and the other answers the same 409. Merges lock
both contacts in id order, so A<-B and B<-A at once queue instead of deadlocking.
"""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Studio
from crm.models import Contact, ContactEmail
from crm.services.contacts import contact_create, contact_merge
from picpick.core.errors import Conflict
from picpick.testing.factories import StudioFactory
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def test_racing_creates_of_one_email_make_one_contact():
    studio = StudioFactory()

    def work(index: int):
        return contact_create(
            studio=Studio.objects.get(id=studio.id),
            by=None,
            first_name=f"N{index}",
            emails=["same@example.com"],
        ).id

    results = race(6, work)
    made = [r for r in results if not isinstance(r, Exception)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(conflicts) == 5, results
    assert all(c.code == "contact_exists" for c in conflicts)
    assert Contact.objects.filter(studio=studio).count() == 1
    assert ContactEmail.objects.filter(studio=studio).count() == 1


def test_opposite_merges_of_a_pair_do_not_deadlock():
    studio = StudioFactory()
    a = contact_create(studio=studio, by=None, first_name="A", emails=["a@example.com"])
    b = contact_create(studio=studio, by=None, first_name="B", emails=["b@example.com"])

    def work(index: int):
        s = Studio.objects.get(id=studio.id)
        one, two = (a, b) if index % 2 == 0 else (b, a)
        survivor = Contact.objects.get(id=one.id)
        merged = Contact.objects.get(id=two.id)
        survivor.studio = merged.studio = s
        return contact_merge(survivor=survivor, merged=merged, by=None).id

    results = race(4, work)
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(done) == 1, results
    assert all(
        isinstance(r, Conflict) and r.code == "contact_merged" for r in results if r not in done
    )
    assert Contact.objects.filter(studio=studio, merged_into__isnull=True).count() == 1
    assert ContactEmail.objects.filter(studio=studio).count() == 2
