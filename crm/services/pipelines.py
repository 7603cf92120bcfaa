"""Writes of pipelines and their stages.

Lock order (the same in ``crm.services.jobs``, so two writers queue instead of deadlocking):

1. the ``Studio`` row (only to create the default pipeline once),
2. the ``Pipeline`` row: every write that changes which stage holds which job (job create,
   stage change, stage removal) or the stages' positions takes it,
3. ``Job`` rows, sorted by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max

from accounts.models import Studio
from crm.models import Pipeline, Stage
from picpick.core.errors import ApplicationError

Kind = Stage.Kind

# The stages a studio starts with: a photographer's usual path from an inquiry to a finished job,
# plus the two places a job leaves the path (lost before booking, archived after).
DEFAULT_STAGES: tuple[tuple[str, str], ...] = (
    ("Inquiry", Kind.OPEN),
    ("Proposal sent", Kind.OPEN),
    ("Booked", Kind.BOOKED),
    ("Shot", Kind.OPEN),
    ("Editing", Kind.OPEN),
    ("Delivered", Kind.OPEN),
    ("Completed", Kind.COMPLETED),
    ("Lost", Kind.LOST),
    ("Archived", Kind.ARCHIVED),
)
DEFAULT_PIPELINE_NAME = "Jobs"
NAME_MAX = 100


def _name_check(name: str, *, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError(
            "A name is required.", code="invalid_name", fields={field: ["Required."]}
        )
    if len(name) > NAME_MAX:
        raise ApplicationError(
            f"A name has at most {NAME_MAX} characters.",
            code="invalid_name",
            fields={field: [f"At most {NAME_MAX} characters."]},
        )
    return name


def _kind_check(kind: str) -> str:
    if kind not in Kind.values:
        raise ApplicationError(
            f"Unknown stage kind {kind!r}.",
            code="invalid_stage_kind",
            fields={"kind": [f"One of {', '.join(Kind.values)}."]},
        )
    return kind


def pipeline_lock(*, pipeline: Pipeline) -> Pipeline:
    return Pipeline.objects.select_for_update().get(pk=pipeline.pk)


@transaction.atomic
def pipeline_default_ensure(*, studio: Studio) -> Pipeline:
    """The studio's default pipeline, made with the default stages the first time. Two callers
    at once (two first inquiries) make one: the second waits on the studio row and finds it."""
    found = Pipeline.objects.filter(studio=studio, is_default=True).order_by("position").first()
    if found is not None:
        return found
    list(Studio.objects.select_for_update().filter(pk=studio.pk))
    found = Pipeline.objects.filter(studio=studio, is_default=True).order_by("position").first()
    if found is not None:
        return found
    return _pipeline_make(
        studio=studio, name=DEFAULT_PIPELINE_NAME, stages=DEFAULT_STAGES, default=True
    )


def _pipeline_make(
    *, studio: Studio, name: str, stages: Iterable[tuple[str, str]], default: bool
) -> Pipeline:
    last = Pipeline.objects.filter(studio=studio).aggregate(m=Max("position"))["m"]
    pipeline = Pipeline.objects.create(
        studio=studio,
        name=name,
        is_default=default,
        position=0 if last is None else last + 1,
    )
    Stage.objects.bulk_create(
        Stage(studio=studio, pipeline=pipeline, name=n, kind=k, position=i)
        for i, (n, k) in enumerate(stages)
    )
    return pipeline


@transaction.atomic
def pipeline_create(
    *, studio: Studio, name: str, stages: list[tuple[str, str]] | None = None
) -> Pipeline:
    """A new pipeline: the given stages (name, kind) in order, or the default ones. The studio's
    first pipeline becomes its default."""
    name = _name_check(name)
    stages = list(DEFAULT_STAGES if stages is None else stages)
    if not stages:
        raise ApplicationError(
            "A pipeline needs at least one stage.",
            code="invalid_stages",
            fields={"stages": ["Empty."]},
        )
    stages = [(_name_check(n, field="stages"), _kind_check(k)) for n, k in stages]
    list(Studio.objects.select_for_update().filter(pk=studio.pk))
    first = not Pipeline.objects.filter(studio=studio, is_default=True).exists()
    return _pipeline_make(studio=studio, name=name, stages=stages, default=first)


@transaction.atomic
def pipeline_rename(*, pipeline: Pipeline, name: str) -> Pipeline:
    pipeline.name = _name_check(name)
    pipeline.save(update_fields=["name", "updated_at"])
    return pipeline


@transaction.atomic
def stage_add(
    *, pipeline: Pipeline, name: str, kind: str = Kind.OPEN, position: int | None = None
) -> Stage:
    """A new stage at ``position`` (0-based; the end when None); later stages move down one."""
    name = _name_check(name)
    _kind_check(kind)
    pipeline_lock(pipeline=pipeline)
    ids = list(
        Stage.objects.filter(pipeline=pipeline)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
    at = len(ids) if position is None else max(0, min(int(position), len(ids)))
    stage = Stage.objects.create(
        studio_id=pipeline.studio_id, pipeline=pipeline, name=name, kind=kind, position=at
    )
    ids.insert(at, stage.id)
    stage_positions_write(ids)
    stage.position = at
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, name: str | None = None, kind: str | None = None) -> Stage:
    fields = []
    if name is not None:
        stage.name = _name_check(name)
        fields.append("name")
    if kind is not None:
        stage.kind = _kind_check(kind)
        fields.append("kind")
    if fields:
        stage.save(update_fields=[*fields, "updated_at"])
    return stage


@transaction.atomic
def stages_reorder(*, pipeline: Pipeline, stage_ids: list[uuid.UUID]) -> list[Stage]:
    """Every stage of the pipeline, in the given order (each id once, none missing)."""
    pipeline_lock(pipeline=pipeline)
    current = set(Stage.objects.filter(pipeline=pipeline).values_list("id", flat=True))
    if len(stage_ids) != len(set(stage_ids)) or set(stage_ids) != current:
        foreign = set(stage_ids) - current
        if foreign and Stage.objects.filter(studio_id=pipeline.studio_id, id__in=foreign).exists():
            raise ApplicationError(
                "A stage of another pipeline.",
                code="stage_of_another_pipeline",
                fields={"stage_ids": ["Only this pipeline's stages."]},
            )
        raise ApplicationError(
            "List every stage of the pipeline once.",
            code="invalid_stage_order",
            fields={"stage_ids": ["Every stage of the pipeline, each once."]},
        )
    stage_positions_write(stage_ids)
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id"))


def stage_positions_write(ids: list[uuid.UUID]) -> None:
    """Stage positions 0..n-1 in the order of ``ids`` (under the pipeline's lock). One UPDATE
    per stage that moved: a pipeline has a handful of stages."""
    current = dict(Stage.objects.filter(id__in=ids).values_list("id", "position"))
    for position, stage_id in enumerate(ids):
        if current.get(stage_id) != position:
            Stage.objects.filter(id=stage_id).update(position=position)
