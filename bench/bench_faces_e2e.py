"""End to end: 200 event photos from upload-complete to all faces grouped, 2 worker processes.

What a studio sees after a wedding card is uploaded, with nothing stubbed between the upload's
completion and the People page:

- photos: ``SCENES`` distinct 24 MP ``picpick.testing.scenes.event_scene(seed)`` JPEGs
  (~10 MB, six faces of 40–600 px each), built before anything is timed and reused
  round-robin to make ``PHOTOS`` files; the batch is started with ``allow_duplicates``
  (the same bytes in one gallery are otherwise reported as duplicates);
- upload: the batch is registered with the real service (``upload_batch_start``), each file's
  bytes are written straight to the object key it was given through the storage interface
  (the local backend: the PUT itself is ``bench_upload``'s subject, not this one's), then the
  whole batch is completed with ``uploads_complete``, which verifies every object and queues
  its processing on the broker;
- workers: two real ``celery -A picpick worker -Q media,faces,default --concurrency 1``
  processes, started before the clock and given their settings by environment: the same
  database (MariaDB's ``bench_<name>`` twin when ``DATABASE_URL`` is set, else this run's
  SQLite file), the same broker (Redis at ``REDIS_URL`` when set, else a filesystem broker
  folder), the same object folder, and the clustering debounce at ``CLUSTER_DELAY`` seconds
  (30 s in production would only add idle time here);
- the clock starts when ``uploads_complete`` is called and stops when every photo is ready
  and the People API's grouping state is ``done`` (``faces.selectors.grouping_status``): every
  photo's face step has committed and the last debounced clustering run has grouped the faces
  of the last photo. "Every photo ready and the face index clean" is not enough: a photo is
  ``ready`` *before* its face step runs, so that stopped the clock while the last photos were
  still being searched for faces, whose faces -- stored during the workers' shutdown -- were
  never grouped (12 of 1,200 drawn faces in one run).

Reported: wall time, photos per minute, and what the run found judged against the truth the
scenes were drawn with (``picpick.testing.scenes``: who is where in each photo): every drawn
face found (a stored face over its box), every drawn face grouped, the faces of one drawn
person in one group and no group mixing two, and as many people as were drawn.
``BENCH_FACES_E2E_PHOTOS`` sets a smaller count for a quick check (the figures then say so in
their names).
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench import Result, processes
from bench.django_env import fresh_database, setup
from bench.seed import studio_with_owner

PHOTOS = int(os.environ.get("BENCH_FACES_E2E_PHOTOS", "200"))
SCENES = 20
WORKERS = 2
CLUSTER_DELAY = 2
# Give up (a failure, not a figure) well before the runner's patience ends: 200 photos take
# ~2.5 minutes on the 2-core development machine.
DEADLINE_S = 420
POLL_S = 0.25
# The issue sets no target; this ceiling is about twice the ~0.75 s of wall time per photo
# measured on the 2-core development machine (143-162 s for 200 photos, MariaDB + Redis), to
# flag a regression.
TARGET_WALL_S_PER_PHOTO = 1.5


# A stored face over a drawn one (HOG boxes are square and tight; see bench_faces).
MATCH_IOU = 0.3

Truth = list[tuple[str, tuple[int, int, int, int]]]  # (person, box) per drawn face


def _scene(seed: int) -> tuple[bytes, Truth]:
    from picpick.testing.scenes import event_scene

    scene = event_scene(seed)
    return scene.jpeg(), [(face.person, face.box) for face in scene.faces]


def _scenes() -> list[tuple[bytes, Truth]]:
    from picpick.testing.scenes import faces_dir

    if not (faces_dir() / "manifest.json").is_file():
        raise RuntimeError("the shared face photos are missing: the scenes need their faces")
    # Building a 24 MP scene is ~1-2 s of pure CPU: one process per core.
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(_scene, range(SCENES)))


def _broker(var_dir: Path) -> tuple[str, dict]:
    """The broker URL and transport options shared by this process and the workers."""
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        return redis_url, {"visibility_timeout": 3600}
    # The folders the workers' settings derive from PICPICK_VAR_DIR (picpick/settings/base.py).
    folders = {name: var_dir / "celery" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "store_processed": False,
        "control_folder": str(folders["control"]),
    }


def _worker_env(*, database_url: str, broker_url: str, var_dir: Path, objects: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "picpick.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "PICPICK_VAR_DIR": str(var_dir),
        "PICPICK_STORAGE": "local",
        "PICPICK_LOCAL_STORAGE_ROOT": str(objects),
        "PICPICK_FACE_CLUSTER_DELAY_SECONDS": str(CLUSTER_DELAY),
        # Debounce keys of this run only, whatever else shares the Redis database.
        "CACHE_KEY_PREFIX": f"bench-faces-e2e-{uuid.uuid4().hex[:8]}",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


def _start_workers(env: dict, logs: Path) -> list[tuple[subprocess.Popen, Path]]:
    workers = []
    for number in range(WORKERS):
        log = logs / f"worker{number}.log"
        process = processes.start_worker(
            env, log, name=f"bench-e2e-{number}", queues="media,faces,default"
        )
        workers.append((process, log))
    return workers


def _stop_workers(workers: list[tuple[subprocess.Popen, Path]]) -> None:
    """Warm shutdown first, then the whole process group: no worker outlives the benchmark."""
    processes.stop([process for process, _ in workers])


def _face_step_failures(workers: list[tuple[subprocess.Popen, Path]]) -> int:
    """Photos whose face step failed (logged, the photo still gets ready without faces): a
    run with failures finishes faster and finds fewer faces, so it is counted and shown."""
    count = 0
    for _, log in workers:
        text = log.read_text(errors="replace")
        failures = text.count("face step failed")
        if failures and not count:
            first = text.index("face step failed")
            sys.stderr.write(
                f"--- {log.name}: first face step failure\n{text[first : first + 3000]}\n"
            )
        count += failures
    return count


def _iou(a, b) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def judge(truth: list[Truth], photos: list[tuple[int, list[tuple[tuple, object]]]]) -> dict:
    """The run's faces against the drawn ones.

    ``photos``: (scene index, [(stored box, person id or None), ...]) per photo. Each drawn face
    takes the stored face that overlaps it most (greedy, IoU ≥ ``MATCH_IOU``). Returns drawn,
    found, grouped (found and given a person), split (drawn faces outside their person's main
    group), mixed (faces in a group whose main drawn person is someone else), people (groups)
    and extra (stored faces over no drawn face).
    """
    drawn = found = extra = 0
    pairs: list[tuple[str, object]] = []  # (drawn person, group) of each found drawn face
    groups: set = set()
    for scene, stored in photos:
        faces = truth[scene]
        drawn += len(faces)
        candidates = sorted(
            (
                (_iou(box, face_box), i, j)
                for i, (_, box) in enumerate(faces)
                for j, (face_box, _) in enumerate(stored)
            ),
            reverse=True,
        )
        hit: dict[int, int] = {}
        used: set[int] = set()
        for score, i, j in candidates:
            if score < MATCH_IOU:
                break
            if i not in hit and j not in used:
                hit[i] = j
                used.add(j)
        found += len(hit)
        extra += len(stored) - len(used)
        pairs += [(faces[i][0], stored[j][1]) for i, j in hit.items()]
        groups |= {group for _, group in stored if group is not None}
    grouped = [(person, group) for person, group in pairs if group is not None]
    by_group: dict = {}
    by_person: dict = {}
    for person, group in grouped:
        by_group.setdefault(group, []).append(person)
        by_person.setdefault(person, []).append(group)

    def off_main(members: list) -> int:
        return len(members) - max(members.count(m) for m in set(members))

    return {
        "drawn": drawn,
        "found": found,
        "grouped": len(grouped),
        "split": sum(off_main(groups_of) for groups_of in by_person.values()),
        "mixed": sum(off_main(people_of) for people_of in by_group.values()),
        "people": len(groups),
        "drawn_people": len({person for faces in truth for person, _ in faces}),
        "extra": extra,
    }


def run() -> list[Result]:
    setup()
    scenes = _scenes()
    with tempfile.TemporaryDirectory(prefix="picpick-bench-faces-e2e-") as folder:
        return _run(scenes, Path(folder))


def _run(scenes: list[tuple[bytes, Truth]], folder: Path) -> list[Result]:
    with fresh_database(), ExitStack() as stack:
        from django.db import connection
        from django.db.models import Count
        from django.test import override_settings

        from accounts.models import Studio
        from faces.models import Face
        from faces.selectors import grouping_status
        from galleries import services
        from galleries.models import Photo, Upload
        from galleries.services.uploads import upload_batch_start, uploads_complete
        from galleries.services.uploads.common import FileDeclaration
        from picpick.celery import app
        from picpick.core.storage import get_storage

        var_dir, objects, logs = folder / "var", folder / "objects", folder / "logs"
        for path in (var_dir, objects, logs):
            path.mkdir(parents=True, exist_ok=True)
        broker_url, transport = _broker(var_dir)
        # This process only sends: the test settings' eager mode would run the tasks here.
        app.conf.update(
            task_always_eager=False,
            broker_url=broker_url,
            broker_transport_options=transport,
        )
        stack.enter_context(
            override_settings(PICPICK_STORAGE="local", PICPICK_LOCAL_STORAGE_ROOT=objects)
        )
        get_storage.cache_clear()
        stack.callback(get_storage.cache_clear)
        storage = get_storage()
        if broker_url != "filesystem://":
            app.control.purge()  # messages of an earlier, interrupted run

        studio, owner = studio_with_owner(slug="bench-faces-e2e", plan=Studio.Plan.BUSINESS)
        gallery = services.gallery_create(studio=studio, by=owner, name="Wedding")

        bodies = [scenes[n % len(scenes)][0] for n in range(PHOTOS)]
        started = upload_batch_start(
            gallery=gallery,
            by=owner,
            files=[
                FileDeclaration(
                    name=f"DSC_{n:04d}.jpg",
                    size=len(body),
                    content_type="image/jpeg",
                    checksum_sha256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
                )
                for n, body in enumerate(bodies)
            ],
            allow_duplicates=True,
        )
        if started.rejected or len(started.files) != PHOTOS:
            raise AssertionError(f"files rejected: {started.rejected[:3]}")
        for file in started.files:
            storage.put_object(
                key=file.upload.key, body=bodies[file.index], content_type="image/jpeg"
            )
        uploads = list(Upload.objects.filter(batch=started.batch))
        connection.close()  # SQLite: no lock held by this process while the workers start

        env = _worker_env(
            database_url=processes.database_url(connection.settings_dict),
            broker_url=broker_url,
            var_dir=var_dir,
            objects=objects,
        )
        workers = _start_workers(env, logs)
        try:
            processes.wait_ready(workers)
            clock = time.perf_counter()
            outcomes = uploads_complete(
                gallery=gallery, by=owner, items=[(upload, None) for upload in uploads]
            )
            failed = [o for o in outcomes if o.error is not None]
            if failed:
                raise AssertionError(f"completion failed: {failed[0].error}")
            while True:
                states = dict(
                    Photo.objects.filter(gallery=gallery)
                    .values_list("state")
                    .annotate(n=Count("id"))
                )
                if states.get(Photo.State.FAILED):
                    raise AssertionError(f"{states[Photo.State.FAILED]} photos failed: {states}")
                # What the People API says: every photo through the face step, every face
                # seen by a clustering run.
                if (
                    states.get(Photo.State.READY, 0) == PHOTOS
                    and grouping_status(gallery=gallery).state == "done"
                ):
                    wall = time.perf_counter() - clock
                    break
                if time.perf_counter() - clock > DEADLINE_S:
                    raise AssertionError(f"not done after {DEADLINE_S} s: {states}")
                time.sleep(POLL_S)
        except BaseException:
            for _, log in workers:
                sys.stderr.write(f"--- {log.name}\n{log.read_text()[-2000:]}\n")
            raise
        finally:
            _stop_workers(workers)

        face_failures = _face_step_failures(workers)
        scene_of = {
            photo_id: int(filename[4:8]) % len(scenes)
            for photo_id, filename in Photo.objects.filter(gallery=gallery).values_list(
                "id", "filename"
            )
        }
        stored: dict = {photo_id: [] for photo_id in scene_of}
        for photo_id, *box, person_id in Face.objects.filter(gallery=gallery).values_list(
            "photo_id", "left", "top", "right", "bottom", "person_id"
        ):
            stored[photo_id].append((tuple(box), person_id))
        seen = judge(
            [faces for _, faces in scenes],
            [(scene_of[photo_id], faces) for photo_id, faces in stored.items()],
        )

    label = f"faces_e2e.{PHOTOS}_photos_{WORKERS}_workers"
    per_minute = PHOTOS / wall * 60
    return [
        Result.at_most(f"{label}.wall", wall, "s", round(TARGET_WALL_S_PER_PHOTO * PHOTOS, 1)),
        Result(
            name=f"{label}.throughput",
            value=round(per_minute, 1),
            unit="photos/min",
            target=round(60 / TARGET_WALL_S_PER_PHOTO, 1),
            ok=per_minute >= 60 / TARGET_WALL_S_PER_PHOTO,
        ),
        Result.at_most(f"{label}.face_step_failures", face_failures, "photos", 0),
        # Judged against the truth the scenes were drawn with (six faces each, four people).
        Result(
            name=f"{label}.drawn_faces_found",
            value=seen["found"],
            unit="faces",
            target=seen["drawn"],
            ok=seen["found"] == seen["drawn"],
        ),
        Result(
            name=f"{label}.drawn_faces_grouped",
            value=seen["grouped"],
            unit="faces",
            target=seen["drawn"],
            ok=seen["grouped"] == seen["drawn"],
        ),
        Result.at_most(f"{label}.faces_apart_from_their_person", seen["split"], "faces", 0),
        Result.at_most(f"{label}.faces_grouped_with_someone_else", seen["mixed"], "faces", 0),
        Result(
            name=f"{label}.people_found",
            value=seen["people"],
            unit="people",
            target=seen["drawn_people"],
            ok=seen["people"] == seen["drawn_people"],
        ),
        Result.at_most(f"{label}.faces_over_no_drawn_face", seen["extra"], "faces", 0),
    ]
