"""Clustering runs racing each other and the studio's corrections, on MariaDB's row locks.

Two beat sweeps, a dirty-flag run and a recluster request can meet on one gallery; every
writer takes the gallery, then the face index lock (faces.lock_objects), so they queue
instead of deadlocking or writing people twice.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count

from faces.models import Face, Person
from faces.services import clustering as service
from galleries.models import Gallery
from tests.faces_people.conftest import add_faces, person_vectors
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]


def _assert_people_consistent(gallery: Gallery, people: int) -> None:
    persons = Person.objects.filter(gallery=gallery)
    assert persons.count() == people
    counted = dict(
        Face.objects.filter(gallery=gallery, person__isnull=False)
        .values_list("person_id")
        .annotate(n=Count("id"))
    )
    for person in persons:
        assert person.face_count == counted.get(person.id, 0)


def test_full_and_incremental_runs_at_once_leave_one_person_per_group(gallery_a):
    faces = add_faces(gallery_a, [v for _, v in person_vectors(21, people=3, per_person=6)])

    def work(index: int):
        gallery = Gallery.objects.get(id=gallery_a.id)
        if index % 2:
            return service.gallery_cluster_incremental(gallery=gallery)
        return service.gallery_cluster(gallery=gallery)

    results = race(4, work)
    assert not any(isinstance(r, Exception) for r in results), results
    _assert_people_consistent(gallery_a, 3)
    people = dict(Face.objects.filter(gallery=gallery_a).values_list("id", "person_id"))
    for start in (0, 6, 12):
        assert len({people[f.id] for f in faces[start : start + 6]}) == 1


def test_a_rename_and_a_merge_racing_a_recluster_both_stick(gallery_a):
    faces = add_faces(gallery_a, [v for _, v in person_vectors(22, people=3, per_person=5)])
    service.gallery_cluster(gallery=gallery_a)
    ids = dict(Face.objects.filter(gallery=gallery_a).values_list("id", "person_id"))
    first, second, third = ids[faces[0].id], ids[faces[5].id], ids[faces[10].id]

    def work(index: int):
        gallery = Gallery.objects.get(id=gallery_a.id)
        if index == 0:
            return service.gallery_cluster(gallery=gallery)
        if index == 1:
            return service.person_rename(person=Person.objects.get(id=first), name="Ana")
        return service.person_merge(
            source=Person.objects.get(id=third), target=Person.objects.get(id=second)
        )

    results = race(3, work)
    assert not any(isinstance(r, Exception) for r in results), results
    service.gallery_cluster(gallery=Gallery.objects.get(id=gallery_a.id))
    _assert_people_consistent(gallery_a, 2)
    assert Person.objects.get(id=first).name == "Ana"
    after = dict(Face.objects.filter(gallery=gallery_a).values_list("id", "person_id"))
    assert {after[f.id] for f in faces[5:15]} == {second}
