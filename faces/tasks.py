"""Celery tasks of the faces app (queue ``faces``). Thin: they take ids and call services."""

from __future__ import annotations

from celery import shared_task

# --- People (faces.services.clustering) ------------------------------------------------------


@shared_task
def gallery_cluster_soon(gallery_id: str, full: bool = False) -> bool:
    """Debounced: queue one clustering run a little later unless one is already pending.

    Cheap enough to be called after every photo (directly or as a message).
    """
    from faces.services import gallery_cluster_schedule

    return gallery_cluster_schedule(gallery_id=gallery_id, full=full)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def gallery_cluster_run(gallery_id: str) -> str:
    from faces.services import gallery_cluster_run as run

    return run(gallery_id=gallery_id)


@shared_task
def galleries_cluster_sweep() -> int:
    from faces.services import galleries_cluster_sweep as sweep

    return sweep()


# --- Detection (faces.services.face_data, faces.pipeline) ------------------------------------


@shared_task
def photos_face_step_sweep() -> int:
    """Beat: ready photos whose face step was lost are queued for it again."""
    from faces.pipeline import photos_face_step_sweep as sweep

    return sweep()


@shared_task
def faces_retention_sweep() -> int:
    """Beat: face data of galleries expired longer than their studio's retention goes."""
    from faces.services import faces_retention_sweep as sweep

    return sweep()
