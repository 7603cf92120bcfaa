"""The end-to-end face benchmark judges what a run stored against the faces the scenes were
drawn with (its rows used to restate the run's own counts as their targets)."""

from __future__ import annotations

from bench.bench_faces_e2e import judge

TRUTH = [
    [("ana", (0, 0, 100, 100)), ("ben", (200, 0, 300, 100))],
    [("ana", (0, 200, 100, 300)), ("cy", (400, 400, 480, 480))],
]


def test_a_perfect_run_finds_and_groups_every_drawn_face():
    stored = [
        (0, [((2, 2, 98, 98), "p1"), ((205, 0, 300, 95), "p2")]),
        (1, [((0, 200, 100, 300), "p1"), ((400, 400, 480, 480), "p3")]),
    ]
    assert judge(TRUTH, stored) == {
        "drawn": 4,
        "found": 4,
        "grouped": 4,
        "split": 0,
        "mixed": 0,
        "people": 3,
        "drawn_people": 3,
        "extra": 0,
    }


def test_missed_ungrouped_split_mixed_and_extra_faces_are_counted():
    stored = [
        # ben's face missed; a box over nothing
        (0, [((0, 0, 100, 100), "p1"), ((900, 900, 990, 990), None)]),
        # ana split off into her own group, cy ungrouped
        (1, [((0, 200, 100, 300), "p2"), ((400, 400, 480, 480), None)]),
        # a third photo: ana's copy grouped with ben's group
        (0, [((0, 0, 100, 100), "p1"), ((200, 0, 300, 100), "p1")]),
    ]
    seen = judge(TRUTH, stored)
    assert (seen["drawn"], seen["found"], seen["grouped"]) == (6, 5, 4)
    assert (seen["split"], seen["mixed"], seen["extra"]) == (1, 1, 1)
    assert (seen["people"], seen["drawn_people"]) == (2, 3)
