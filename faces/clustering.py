"""Pure grouping of face embeddings into people, with the studio's decisions as constraints.

No Django, numpy only. The algorithm is Chinese whispers (label propagation on the graph of
faces closer than ``threshold``), chosen by measurement against single-link components and
dlib's own Chinese whispers on the benchmark set (``bench/bench_grouping.py``, 90 faces of 4
people at 40–300 px): BCubed precision/recall 1.00/1.00 at 0.55 and 0.60 (0.91 recall at 0.50:
the 40 px faces split off); single-link is perfect only at 0.50–0.55 and mixes two people at
0.60. 0.55 sits in the perfect range on the strict side, which is what keeps siblings apart.

Constraints:

- an *anchor* (a face assigned by hand) keeps its person key, always; free groups join an
  anchored person only when their centre is within the threshold of the anchors' centre, and
  two anchored people never merge;
- a *cannot-link* (face, person key) means that face never takes that key;
- *previous* keys let a group found again keep its person row (name, hidden flag).

Memory: the neighbour graph is built in blocks of rows (``BLOCK`` × N distances at a time) and
keeps at most ``MAX_NEIGHBOURS`` edges per face, so 20k faces never need the N² matrix.
"""

from __future__ import annotations

import numpy as np

# Measured on the benchmark set (see bench/bench_grouping.py and the note in the report).
DEFAULT_THRESHOLD = 0.55
# A group needs this many faces to become a person: a face seen once is usually a passer-by or
# a false detection; it stays unassigned (the studio can assign it, and a later upload batch
# can still join it to a person).
MIN_GROUP_SIZE = 2
MAX_NEIGHBOURS = 64
BLOCK = 1024
ITERATIONS = 20


def neighbour_graph(
    embeddings: np.ndarray, *, threshold: float, max_neighbours: int = MAX_NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR-like graph of pairs closer than ``threshold``: (indptr, indices, distances)."""
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = x.shape[0]
    squared = np.einsum("ij,ij->i", x, x)
    limit = threshold * threshold
    indptr = np.zeros(n + 1, dtype=np.int64)
    all_idx: list[np.ndarray] = []
    all_dist: list[np.ndarray] = []
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        d2 = squared[start:stop, None] + squared[None, :] - 2.0 * (x[start:stop] @ x.T)
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf  # no self edges
        for row in range(stop - start):
            values = d2[row]
            close = np.flatnonzero(values < limit)
            if close.size > max_neighbours:
                close = close[np.argpartition(values[close], max_neighbours)[:max_neighbours]]
            all_idx.append(close.astype(np.int32))
            all_dist.append(np.sqrt(np.maximum(values[close], 0.0)).astype(np.float32))
            indptr[start + row + 1] = indptr[start + row] + close.size
    indices = np.concatenate(all_idx) if all_idx else np.zeros(0, dtype=np.int32)
    distances = np.concatenate(all_dist) if all_dist else np.zeros(0, dtype=np.float32)
    return indptr, indices, distances


def _whispers(embeddings: np.ndarray, *, threshold: float, seed: int) -> list[int]:
    """Chinese whispers on the graph of faces closer than ``threshold``: a group id per face."""
    n = int(embeddings.shape[0])
    indptr, indices, distances = neighbour_graph(embeddings, threshold=threshold)
    # Closer faces pull harder; an edge at the threshold still counts a little.
    weights = 1.0 - 0.5 * (distances / threshold)
    labels = list(range(n))
    rng = np.random.default_rng(seed)
    for _ in range(ITERATIONS):
        changed = 0
        for i in rng.permutation(n).tolist():
            lo, hi = indptr[i], indptr[i + 1]
            if lo == hi:
                continue
            score: dict[int, float] = {}
            for j, w in zip(indices[lo:hi].tolist(), weights[lo:hi].tolist(), strict=True):
                score[labels[j]] = score.get(labels[j], 0.0) + w
            # Ties go to the smaller label so the result does not depend on dict order.
            best = max(score.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            if best != labels[i]:
                labels[i] = best
                changed += 1
        if not changed:
            break
    return labels


def cluster(
    embeddings: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    anchors: dict[int, str] | None = None,
    cannot_link: set[tuple[int, str]] | None = None,
    previous: dict[int, str] | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    seed: int = 0,
) -> list[str | None]:
    """A person key per face: an existing key, ``"new:<n>"`` for a new group, or None.

    ``anchors`` maps face index → fixed person key (manual assignments); ``cannot_link`` holds
    (face index, person key) pairs that must never be joined; ``previous`` (optional) maps
    face index → the key the face had before, so a group found again keeps its person.

    The free faces are grouped among themselves first; anchors do not vote in that step, so
    a face assigned by hand against its looks cannot drag its look-alikes along. Each group
    then gets a key: the previous key most of it had (largest groups first, one group per
    key), else the anchored person whose centre is nearest within the threshold, else a new
    key (or None below ``min_group_size``). A face whose group's key it was rejected from is
    left unassigned. Deterministic for a given seed.
    """
    anchors = anchors or {}
    cannot_link = cannot_link or set()
    previous = previous or {}
    n = int(embeddings.shape[0])
    if n == 0:
        return []
    x = np.asarray(embeddings, dtype=np.float32)
    free = [i for i in range(n) if i not in anchors]
    out: list[str | None] = [anchors.get(i) for i in range(n)]
    if not free:
        return out

    groups: dict[int, list[int]] = {}
    for local, label in enumerate(_whispers(x[free], threshold=threshold, seed=seed)):
        groups.setdefault(label, []).append(free[local])
    ordered = sorted(groups.values(), key=lambda members: (-len(members), members[0]))

    anchor_keys = sorted(set(anchors.values()))
    centres = (
        np.stack(
            [x[[i for i, k in anchors.items() if k == key]].mean(axis=0) for key in anchor_keys]
        )
        if anchor_keys
        else np.zeros((0, x.shape[1]), dtype=np.float32)
    )
    taken: set[str] = set()
    for number, members in enumerate(ordered):
        key: str | None = None
        votes: dict[str, int] = {}
        for i in members:
            if i in previous:
                votes[previous[i]] = votes.get(previous[i], 0) + 1
        for candidate, count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if candidate not in taken and 2 * count >= len(members):
                key = candidate
                taken.add(candidate)
                break
        if key is None and anchor_keys:
            distance = np.linalg.norm(centres - x[members].mean(axis=0), axis=1)
            nearest = int(np.argmin(distance))
            if distance[nearest] < threshold:
                key = anchor_keys[nearest]
        if key is None and len(members) >= min_group_size:
            key = f"new:{number}"
        for i in members:
            out[i] = key

    for face, banned in cannot_link:
        if face not in anchors and out[face] == banned:
            out[face] = None
    return out


def connected_components(embeddings: np.ndarray, *, threshold: float) -> list[int]:
    """Single-link grouping (every pair under the threshold joins): the baseline we measure."""
    n = int(embeddings.shape[0])
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    indptr, indices, _ = neighbour_graph(embeddings, threshold=threshold, max_neighbours=n)
    for i in range(n):
        for j in indices[indptr[i] : indptr[i + 1]].tolist():
            ra, rb = find(i), find(j)
            if ra != rb:
                parent[ra] = rb
    return [find(i) for i in range(n)]


def bcubed(labels_true: list, labels_pred: list) -> tuple[float, float]:
    """BCubed precision and recall; a face left out (None) counts as its own singleton."""
    n = len(labels_true)
    pred = [p if p is not None else ("single", i) for i, p in enumerate(labels_pred)]
    precision = recall = 0.0
    for i in range(n):
        same_pred = [j for j in range(n) if pred[j] == pred[i]]
        same_true = [j for j in range(n) if labels_true[j] == labels_true[i]]
        both = sum(1 for j in same_pred if labels_true[j] == labels_true[i])
        precision += both / len(same_pred)
        recall += both / len(same_true)
    return precision / n, recall / n


def pairwise(labels_true: list, labels_pred: list) -> tuple[float, float]:
    """Pairwise precision and recall over all pairs of faces."""
    n = len(labels_true)
    tp = fp = fn = 0
    for i in range(n):
        for j in range(i + 1, n):
            same_true = labels_true[i] == labels_true[j]
            same_pred = labels_pred[i] is not None and labels_pred[i] == labels_pred[j]
            tp += same_true and same_pred
            fp += same_pred and not same_true
            fn += same_true and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall
