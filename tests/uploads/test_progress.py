"""Batch progress: counts per state from the rows, and the per-file list (errors first of all)."""

from __future__ import annotations

import pytest

from galleries.models import Photo
from tests.uploads.conftest import complete, declare, error_code, jpeg_bytes, png_bytes, put, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(alice_client, gallery_a) -> dict:
    """Seven declared files: one rejected, and one of each state below."""
    bodies = {
        "pending.jpg": jpeg_bytes(1000),
        "uploaded.jpg": jpeg_bytes(1001),
        "processing.jpg": jpeg_bytes(1002),
        "ready.jpg": jpeg_bytes(1003),
        "lying.jpg": png_bytes(1004),  # fails verification
        "aborted.jpg": jpeg_bytes(1005),
    }
    files = [declare(name, body) for name, body in bodies.items()]
    response = start(alice_client, gallery_a, [*files, declare("empty.jpg", size=0)])
    assert response.status_code == 201
    by_name = {f["name"]: f for f in response.json()["files"]}
    for name in ("uploaded.jpg", "processing.jpg", "ready.jpg", "lying.jpg"):
        put(by_name[name]["urls"][0], bodies[name])
        complete(alice_client, by_name[name]["upload_id"])
    Photo.objects.filter(id=by_name["processing.jpg"]["photo_id"]).update(
        state=Photo.State.PROCESSING
    )
    Photo.objects.filter(id=by_name["ready.jpg"]["photo_id"]).update(state=Photo.State.READY)
    alice_client.delete(f"/api/v1/uploads/{by_name['aborted.jpg']['upload_id']}/")
    return {"id": response.json()["id"], "files": by_name}


def test_counts_per_state(alice_client, batch, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):  # auth, membership, batch, one GROUP BY
        response = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/")
    assert response.status_code == 200
    body = response.json()
    assert body["declared"] == 7
    assert body["counts"] == {
        "pending": 1,
        "uploaded": 1,
        "processing": 1,
        "ready": 1,
        "failed": 1,
        "aborted": 1,
        "expired": 0,
        "deleted": 0,
        "rejected": 1,
    }
    assert body["completed_bytes"] == 1001 + 1002 + 1003


def test_a_processing_failure_counts_as_failed(alice_client, batch):
    Photo.objects.filter(id=batch["files"]["ready.jpg"]["photo_id"]).update(
        state=Photo.State.FAILED, failure_code="decode_failed", failure_message="Truncated JPEG."
    )
    counts = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/").json()["counts"]
    assert (counts["failed"], counts["ready"]) == (2, 0)
    response = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/files/?state=failed")
    errors = {row["name"]: row["failure_code"] for row in response.json()["results"]}
    assert errors == {"lying.jpg": "type_mismatch", "ready.jpg": "decode_failed"}


def test_failed_files_list_their_reasons(alice_client, batch):
    response = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/files/?state=failed")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["name"] == "lying.jpg"
    assert row["state"] == "failed"
    assert row["failure_code"] == "type_mismatch"
    assert "JPEG" in row["failure_message"]


@pytest.mark.parametrize(
    ("state", "names"),
    [
        ("pending", ["pending.jpg"]),
        ("uploaded", ["uploaded.jpg"]),
        ("processing", ["processing.jpg"]),
        ("ready", ["ready.jpg"]),
        ("aborted", ["aborted.jpg"]),
        ("expired", []),
    ],
)
def test_files_filtered_by_state(alice_client, batch, state, names):
    response = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/files/?state={state}")
    assert [row["name"] for row in response.json()["results"]] == names
    assert {row["state"] for row in response.json()["results"]} <= {state}


def test_files_are_paginated_in_declaration_order(alice_client, batch):
    url = f"/api/v1/upload-batches/{batch['id']}/files/?page_size=4"
    first = alice_client.get(url).json()
    second = alice_client.get(f"{url}&cursor={first['next']}").json()
    names = [row["name"] for row in first["results"] + second["results"]]
    assert names == [
        "pending.jpg",
        "uploaded.jpg",
        "processing.jpg",
        "ready.jpg",
        "lying.jpg",
        "aborted.jpg",
    ]
    assert second["next"] is None


@pytest.mark.parametrize(
    "query", ["state=bogus", "page_size=0", "cursor=forged", "unknown=1"], ids=str
)
def test_bad_file_list_parameters_are_a_400(alice_client, batch, query):
    response = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/files/?{query}")
    assert response.status_code == 400
    assert error_code(response) in {"validation_error", "invalid_cursor"}


def test_a_deleted_photo_shows_as_deleted(alice_client, batch):
    photo_id = batch["files"]["uploaded.jpg"]["photo_id"]
    assert alice_client.delete(f"/api/v1/photos/{photo_id}/").status_code == 204
    counts = alice_client.get(f"/api/v1/upload-batches/{batch['id']}/").json()["counts"]
    assert (counts["deleted"], counts["uploaded"]) == (1, 0)
