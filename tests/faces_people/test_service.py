"""The clustering service: full and incremental runs, corrections that survive them, debounce."""

from __future__ import annotations

import numpy as np
import pytest

from faces import tasks
from faces.embedding import to_bytes
from faces.models import Face, FaceRejection, GalleryFaceIndex, Person
from faces.services import clustering as service
from tests.faces_people.conftest import add_faces, person_vectors

pytestmark = pytest.mark.django_db


def _people_of(faces):
    rows = dict(Face.objects.filter(id__in=[f.id for f in faces]).values_list("id", "person_id"))
    return [rows[f.id] for f in faces]


@pytest.fixture
def three_people(gallery_a):
    """Three people with 5 faces each (faces[0:5], [5:10], [10:15]), clustered once."""
    faces = add_faces(gallery_a, [v for _, v in person_vectors(10, people=3, per_person=5)])
    service.gallery_cluster(gallery=gallery_a)
    return faces


def test_full_cluster_makes_one_person_per_group_with_counts_cover_and_distances(
    gallery_a, three_people
):
    people = _people_of(three_people)
    assert len({people[0], people[5], people[10]}) == 3
    assert people[:5] == [people[0]] * 5
    person = Person.objects.get(id=people[0])
    assert (person.face_count, person.photo_count) == (5, 5)
    # The cover is the largest face of the group.
    sizes = {f.id: f.size for f in three_people[:5]}
    assert person.cover_face_id == max(sizes, key=sizes.get)
    face = Face.objects.get(id=three_people[0].id)
    assert face.assignment == Face.Assignment.AUTO and 0 < face.distance < 0.55
    index = GalleryFaceIndex.objects.get(gallery=gallery_a)
    assert index.version >= 1 and not index.dirty and index.clustered_at is not None


def test_recluster_keeps_person_rows_and_bumps_the_version(gallery_a, three_people):
    before = _people_of(three_people)
    version = GalleryFaceIndex.objects.get(gallery=gallery_a).version
    service.gallery_cluster(gallery=gallery_a)
    assert _people_of(three_people) == before
    assert GalleryFaceIndex.objects.get(gallery=gallery_a).version == version + 1
    assert Person.objects.filter(gallery=gallery_a).count() == 3


def test_name_survives_recluster(gallery_a, three_people):
    person = Person.objects.get(id=_people_of(three_people)[0])
    service.person_rename(person=person, name="Ana")
    service.gallery_cluster(gallery=gallery_a)
    assert Person.objects.get(id=person.id).name == "Ana"
    assert set(_people_of(three_people[:5])) == {person.id}


def test_merge_survives_recluster(gallery_a, three_people):
    people = _people_of(three_people)
    source, target = Person.objects.get(id=people[0]), Person.objects.get(id=people[5])
    service.person_merge(source=source, target=target)
    assert not Person.objects.filter(id=source.id).exists()
    service.gallery_cluster(gallery=gallery_a)
    assert set(_people_of(three_people[:10])) == {target.id}
    assert Person.objects.get(id=target.id).face_count == 10


def test_merge_across_galleries_is_refused_and_changes_nothing(gallery_a, three_people, studio_a):
    from picpick.testing.factories import GalleryFactory

    other = GalleryFactory(studio=studio_a)
    add_faces(other, [v for _, v in person_vectors(11, people=1, per_person=3)])
    service.gallery_cluster(gallery=other)
    stranger = Person.objects.get(gallery=other)
    mine = Person.objects.get(id=_people_of(three_people)[0])
    with pytest.raises(service.Unprocessable) as exc:
        service.person_merge(source=mine, target=stranger)
    assert exc.value.code == "different_galleries"
    assert Face.objects.filter(person=mine).count() == 5


def test_split_survives_recluster(gallery_a, three_people):
    person = Person.objects.get(id=_people_of(three_people)[0])
    new = service.person_split(person=person, face_ids=[f.id for f in three_people[:2]])
    service.gallery_cluster(gallery=gallery_a)
    assert _people_of(three_people[:5]) == [new.id, new.id] + [person.id] * 3
    assert Person.objects.get(id=new.id).face_count == 2


def test_remove_survives_recluster(gallery_a, three_people):
    person_id = _people_of(three_people)[0]
    face = Face.objects.get(id=three_people[0].id)
    service.face_remove_from_person(face=face)
    assert FaceRejection.objects.filter(face=face, person_id=person_id).exists()
    service.gallery_cluster(gallery=gallery_a)
    assert _people_of(three_people[:1]) != [person_id]
    assert set(_people_of(three_people[1:5])) == {person_id}
    service.gallery_cluster_incremental(gallery=gallery_a)
    assert _people_of(three_people[:1]) != [person_id]


def test_assign_survives_recluster(gallery_a, three_people):
    people = _people_of(three_people)
    face = Face.objects.get(id=three_people[0].id)
    target = Person.objects.get(id=people[5])
    service.face_assign(face=face, person=target)
    service.gallery_cluster(gallery=gallery_a)
    face.refresh_from_db()
    assert face.person_id == target.id and face.assignment == Face.Assignment.MANUAL
    assert set(_people_of(three_people[1:5])) == {people[0]}


def test_assign_to_hidden_person_is_a_conflict(gallery_a, three_people):
    people = _people_of(three_people)
    hidden = service.person_set_hidden(person=Person.objects.get(id=people[5]), hidden=True)
    with pytest.raises(service.Conflict) as exc:
        service.face_assign(face=Face.objects.get(id=three_people[0].id), person=hidden)
    assert exc.value.code == "person_hidden"
    assert _people_of(three_people[:1]) == [people[0]]


def test_hidden_person_stays_hidden_after_recluster(gallery_a, three_people):
    person = Person.objects.get(id=_people_of(three_people)[0])
    service.person_set_hidden(person=person, hidden=True)
    service.gallery_cluster(gallery=gallery_a)
    assert Person.objects.get(id=person.id).hidden
    assert set(_people_of(three_people[:5])) == {person.id}


def test_added_manual_face_survives_recluster(gallery_a, three_people):
    person = Person.objects.get(id=_people_of(three_people)[10])
    # A drawn face (far from everyone) assigned by hand: the anchor keeps it.
    face = add_faces(gallery_a, [np.full(128, 0.3, dtype=np.float32)])[0]
    Face.objects.filter(id=face.id).update(added_manually=True)
    service.face_assign(face=Face.objects.get(id=face.id), person=person)
    service.gallery_cluster(gallery=gallery_a)
    assert _people_of([face]) == [person.id]
    assert Person.objects.get(id=person.id).face_count == 6


def test_confirm_makes_the_assignment_manual(gallery_a, three_people):
    face = service.face_confirm(face=Face.objects.get(id=three_people[0].id))
    assert face.assignment == Face.Assignment.MANUAL


def test_incremental_new_faces_join_existing_people_and_the_rest_group(gallery_a, three_people):
    people = _people_of(three_people)
    pairs = person_vectors(10, people=3, per_person=7)  # same centres: 2 more of each
    newcomers = add_faces(gallery_a, [pairs[5][1], pairs[6][1], pairs[12][1]])
    strangers = add_faces(gallery_a, [v for _, v in person_vectors(99, people=1, per_person=3)])
    service.gallery_cluster_incremental(gallery=gallery_a)
    assert _people_of(newcomers) == [people[0], people[0], people[5]]
    new_people = set(_people_of(strangers))
    assert len(new_people) == 1 and None not in new_people
    assert new_people.isdisjoint(people)
    assert Person.objects.get(id=people[0]).face_count == 7


def test_incremental_does_not_join_a_rejected_person(gallery_a, three_people):
    person_id = _people_of(three_people)[0]
    pairs = person_vectors(10, people=3, per_person=7)
    newcomer = add_faces(gallery_a, [pairs[5][1]])[0]
    FaceRejection.objects.create(studio_id=gallery_a.studio_id, face=newcomer, person_id=person_id)
    service.gallery_cluster_incremental(gallery=gallery_a)
    assert _people_of([newcomer]) != [person_id]


def test_hidden_faces_are_left_out_of_counts(gallery_a, three_people):
    person_id = _people_of(three_people)[0]
    Face.objects.filter(id=three_people[0].id).update(hidden=True)
    service.gallery_cluster(gallery=gallery_a)
    assert Person.objects.get(id=person_id).face_count == 4


def test_empty_unnamed_people_are_deleted(gallery_a, three_people):
    person_id = _people_of(three_people)[0]
    Face.objects.filter(id__in=[f.id for f in three_people[:5]]).delete()
    service.gallery_cluster(gallery=gallery_a)
    assert not Person.objects.filter(id=person_id).exists()


# --- Debounce --------------------------------------------------------------------------------
def test_many_dirty_marks_queue_one_run(gallery_a, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(
        tasks.gallery_cluster_run, "apply_async", lambda args, countdown: queued.append(countdown)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(200):
            tasks.gallery_cluster_soon(str(gallery_a.id))
    assert queued == [service.cluster_delay()]


def test_the_run_clusters_once_and_a_later_mark_queues_again(
    gallery_a, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        tasks.gallery_cluster_run, "apply_async", lambda args, countdown: queued.append(args)
    )
    faces = add_faces(gallery_a, [v for _, v in person_vectors(12, people=1, per_person=4)])
    GalleryFaceIndex.objects.create(gallery=gallery_a, studio_id=gallery_a.studio_id, dirty=True)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.gallery_cluster_soon(str(gallery_a.id))
    assert tasks.gallery_cluster_run(str(gallery_a.id)) == "incremental"
    assert None not in _people_of(faces)
    assert tasks.gallery_cluster_run(str(gallery_a.id)) == "clean"  # nothing new: no work
    with django_capture_on_commit_callbacks(execute=True):
        tasks.gallery_cluster_soon(str(gallery_a.id))
    assert len(queued) == 2


def test_full_recluster_request_runs_full(
    gallery_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.gallery_cluster_run, "apply_async", lambda args, countdown: None)
    add_faces(gallery_a, [v for _, v in person_vectors(13, people=1, per_person=3)])
    with django_capture_on_commit_callbacks(execute=True):
        tasks.gallery_cluster_soon(str(gallery_a.id), full=True)
    assert tasks.gallery_cluster_run(str(gallery_a.id)) == "full"


def test_sweep_schedules_galleries_dirty_for_too_long(gallery_a, monkeypatch):
    from django.utils import timezone

    calls = []
    monkeypatch.setattr(service, "gallery_cluster_schedule", lambda **kw: calls.append(kw))
    GalleryFaceIndex.objects.create(
        gallery=gallery_a,
        studio_id=gallery_a.studio_id,
        dirty=True,
        dirty_since=timezone.now() - timezone.timedelta(hours=1),
    )
    assert tasks.galleries_cluster_sweep() == 1
    assert calls == [{"gallery_id": gallery_a.id}]


def test_embedding_bytes_roundtrip_used_by_rows():
    vector = np.arange(128, dtype=np.float32)
    assert len(to_bytes(vector)) == 512
