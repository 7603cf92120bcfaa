"""Matching a face against a gallery's faces: one float32 matrix, searched exactly (pure numpy).

Exact L2 with numpy is fast enough here (measured in ``bench/bench_selfie.py``: a few ms at
10^5 faces, tens of ms at 10^6), so there is no ANN index: exact search has no recall loss
and no index to keep in step with corrections. The matrix is built from the database and
cached per process by ``faces.selectors.index``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from faces.embedding import EMBEDDING_DIM, matrix_from_bytes


@dataclass(frozen=True)
class FaceIndex:
    """The searchable faces of one gallery (not hidden, person not hidden)."""

    matrix: np.ndarray  # (N, 128) float32
    norms: np.ndarray  # (N,) float32: squared row norms, precomputed for ‖a‖²+‖b‖²−2ab
    face_ids: list[uuid.UUID]
    photo_codes: np.ndarray  # (N,) int32, index into photo_ids
    photo_ids: list[uuid.UUID]
    person_codes: np.ndarray  # (N,) int32, index into person_ids, -1 when unassigned
    person_ids: list[uuid.UUID]

    @property
    def size(self) -> int:
        return len(self.face_ids)

    @property
    def nbytes(self) -> int:
        # The arrays plus a rough 100 bytes per id object kept in the lists.
        arrays = self.matrix.nbytes + self.norms.nbytes + self.photo_codes.nbytes
        arrays += self.person_codes.nbytes
        return arrays + 100 * (len(self.face_ids) + len(self.photo_ids) + len(self.person_ids))


@dataclass(frozen=True)
class Hit:
    face_index: int  # row in the index
    distance: float


def _codes(values: list) -> tuple[np.ndarray, list]:
    """Small integer codes for repeated ids (None -> -1), and the distinct ids in code order."""
    mapping: dict = {}
    codes = np.empty(len(values), dtype=np.int32)
    for position, value in enumerate(values):
        if value is None:
            codes[position] = -1
        else:
            codes[position] = mapping.setdefault(value, len(mapping))
    return codes, list(mapping)


def index_from_rows(rows: list[tuple]) -> FaceIndex:
    """The index from ``(face_id, photo_id, person_id, embedding bytes)`` rows."""
    face_ids = [row[0] for row in rows]
    photo_codes, photo_ids = _codes([row[1] for row in rows])
    person_codes, person_ids = _codes([row[2] for row in rows])
    matrix = matrix_from_bytes([bytes(row[3]) for row in rows])
    return index_from_matrix(
        matrix,
        face_ids=face_ids,
        photo_codes=photo_codes,
        photo_ids=photo_ids,
        person_codes=person_codes,
        person_ids=person_ids,
    )


def index_from_matrix(
    matrix: np.ndarray,
    *,
    face_ids: list,
    photo_codes: np.ndarray,
    photo_ids: list,
    person_codes: np.ndarray,
    person_ids: list,
) -> FaceIndex:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
    norms = np.einsum("ij,ij->i", matrix, matrix)
    return FaceIndex(
        matrix=matrix,
        norms=norms,
        face_ids=face_ids,
        photo_codes=photo_codes,
        photo_ids=photo_ids,
        person_codes=person_codes,
        person_ids=person_ids,
    )


def search(index: FaceIndex, query: np.ndarray, *, threshold: float) -> list[Hit]:
    """Every face within ``threshold`` (Euclidean) of ``query``, nearest first."""
    if index.size == 0:
        return []
    query = np.asarray(query, dtype=np.float32).reshape(EMBEDDING_DIM)
    # Squared distances: ‖a‖² + ‖q‖² − 2a·q, one matrix-vector product for the whole gallery.
    # einsum's own SIMD loop, not BLAS: OpenBLAS spreads a gemv over its thread pool, and in a
    # busy web process waking those threads cost ~8 ms per search (measured) at any size up
    # to 10^5, more than the product itself (~4 ms at 10^5, single-threaded).
    products = np.einsum("ij,j->i", index.matrix, query)
    squared = index.norms + np.float32(query @ query) - 2.0 * products
    rows = np.flatnonzero(squared <= np.float32(threshold * threshold))
    if rows.size == 0:
        return []
    close = np.maximum(squared[rows], 0.0)
    order = np.argsort(close, kind="stable")
    rows, close = rows[order], np.sqrt(close[order])
    return [Hit(int(row), float(d)) for row, d in zip(rows, close, strict=True)]


def best_per_photo(index: FaceIndex, hits: list[Hit]) -> list[Hit]:
    """The nearest hit of each photo, nearest first (hits come sorted by distance)."""
    if not hits:
        return []
    rows = np.fromiter((hit.face_index for hit in hits), dtype=np.int64, count=len(hits))
    _, first = np.unique(index.photo_codes[rows], return_index=True)
    return [hits[position] for position in np.sort(first)]


def majority_person(index: FaceIndex, hits: list[Hit]) -> uuid.UUID | None:
    """The person most hits belong to, when that is more than half of the hits."""
    if not hits:
        return None
    codes = index.person_codes[[hit.face_index for hit in hits]]
    assigned = codes[codes >= 0]
    if assigned.size == 0:
        return None
    counts = np.bincount(assigned)
    best = int(np.argmax(counts))
    if counts[best] * 2 <= len(hits):
        return None
    return index.person_ids[best]
