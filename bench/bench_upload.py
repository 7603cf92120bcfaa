"""The upload path end to end: a 2,000-file batch started, PUT to an S3 API, completed.

What a desktop uploader does with a wedding card, through the real API views (Django's test
client, in process) against the S3 backend pointed at a moto server on loopback:

1. ``POST /api/v1/galleries/{id}/uploads/`` with 500 files at a time (4 requests);
2. one real HTTP ``PUT`` of each file's bytes (32 KiB JPEGs, each with its own SHA-256, which
   the presigned URL is signed with) straight to storage, 8 at a time, as an uploader would;
3. ``POST /api/v1/upload-batches/{id}/complete/`` per batch of 500 (4 requests), which checks
   every object's size, checksum and magic bytes in storage.

Reported: API requests per file including the PUT (target <= 3), the API server time per file
(the time spent inside the test client's calls only, never the PUTs), the server time of one
500-file start and one 500-file complete, and the presign cost inside a 500-file start (the
time spent in ``presign_put``; target <= 50 ms).

The processing task is not run: ``photo_process.delay`` is patched to a no-op (the test
settings make Celery eager, which would decode every image inside the measured requests). S3 is
moto's server behind the checks of ``picpick.testing.s3_server`` (it verifies the SigV4
signatures and checksums as S3 does).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from unittest import mock

from bench import Result
from bench.django_env import fresh_database, setup
from bench.seed import studio_with_owner

FILES = 2000
BATCH = 500
BODY_BYTES = 32 * 1024
PUT_THREADS = 8
TARGET_REQUESTS_PER_FILE = 3.0
TARGET_PRESIGN_MS = 50.0
# The issue sets no target for these: they are ceilings ~1.5x the figures measured on the
# 2-core development machine (~12 ms/file; ~0.5 s per start and ~5 s per complete of 500), to
# flag a regression. Most of a complete is the moto server itself answering 1,000 storage
# requests (a HEAD and a 64-byte GET per file) in this very process, under the same GIL as
# the API; against S3 those are network waits, run 16 at a time.
TARGET_API_MS_PER_FILE = 18.0
TARGET_START_MS = 800.0
TARGET_COMPLETE_MS = 8000.0
REGION = "eu-west-1"
BUCKET = "picpick-bench-uploads"


def _moto_server():
    from picpick.testing.s3_server import ACCESS_KEY, SECRET_KEY, CheckedMotoServer

    server = CheckedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    return server, (ACCESS_KEY, SECRET_KEY)


def _bodies() -> list[bytes]:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (180, 40, 40)).save(out, format="JPEG", quality=90)
    head = out.getvalue()
    # Each file differs (its own checksum, so no duplicate is reported) and is a valid JPEG
    # followed by filler, as a camera's trailing data would be.
    return [head + str(n).encode().ljust(BODY_BYTES - len(head), b"\0") for n in range(FILES)]


def _put(url: dict, body: bytes) -> None:
    headers = {k: v for k, v in url["headers"].items() if k.lower() != "content-length"}
    request = urllib.request.Request(url["url"], data=body, method="PUT", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        if response.status != 200:
            raise AssertionError(f"PUT answered {response.status}")


def run() -> list[Result]:
    import logging

    setup()  # the checked server's module imports Django
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server, (access_key, secret_key) = _moto_server()
    server.start()
    try:
        host, port = server.get_host_and_port()
        return _run(f"http://{host}:{port}", access_key, secret_key)
    finally:
        server.stop()


def _run(endpoint: str, access_key: str, secret_key: str) -> list[Result]:
    with fresh_database(), ExitStack() as stack:
        import boto3
        from django.test import Client, override_settings

        from accounts.models import Studio
        from accounts.tokens import token_pair_for
        from galleries import services, tasks
        from picpick.core.storage import get_storage
        from picpick.core.storage.s3 import S3Storage

        stack.enter_context(
            mock.patch.dict(
                os.environ,
                {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
            )
        )
        stack.enter_context(
            override_settings(
                PICPICK_STORAGE="s3",
                PICPICK_S3_BUCKET=BUCKET,
                PICPICK_S3_REGION=REGION,
                PICPICK_S3_ENDPOINT_URL=endpoint,
                PICPICK_S3_ADDRESSING_STYLE="path",
                PICPICK_CLOUDFRONT_DOMAIN="",
            )
        )
        stack.enter_context(mock.patch.object(tasks.photo_process, "delay", lambda *a: None))
        boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
        ).client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )

        studio, owner = studio_with_owner(slug="bench-uploads", plan=Studio.Plan.BUSINESS)
        gallery = services.gallery_create(studio=studio, by=owner, name="Big wedding")
        access = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")

        storage = get_storage()
        assert isinstance(storage, S3Storage)
        presign_ms: list[float] = []
        presign_put = storage.presign_put

        def timed_presign_put(**kwargs):
            started = time.perf_counter()
            try:
                return presign_put(**kwargs)
            finally:
                presign_ms[-1] += (time.perf_counter() - started) * 1000

        stack.enter_context(mock.patch.object(storage, "presign_put", timed_presign_put))

        api_ms = 0.0
        api_requests = 0

        def api(path: str, body: dict, expected: int) -> dict:
            nonlocal api_ms, api_requests
            started = time.perf_counter()
            response = client.post(path, body, content_type="application/json")
            api_ms += (time.perf_counter() - started) * 1000
            api_requests += 1
            if response.status_code != expected:
                raise AssertionError(
                    f"POST {path} answered {response.status_code}: {response.content[:300]!r}"
                )
            return response.json()

        bodies = _bodies()
        start_ms: list[float] = []
        complete_ms: list[float] = []
        puts = 0
        with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
            for first in range(0, FILES, BATCH):
                chunk = list(range(first, first + BATCH))
                files = [
                    {
                        "name": f"DSC_{n:05d}.JPG",
                        "size": len(bodies[n]),
                        "content_type": "image/jpeg",
                        "checksum_sha256": base64.b64encode(
                            hashlib.sha256(bodies[n]).digest()
                        ).decode(),
                        "idempotency_key": f"card-A/DSC_{n:05d}.JPG",
                    }
                    for n in chunk
                ]
                presign_ms.append(0.0)
                before = api_ms
                batch = api(f"/api/v1/galleries/{gallery.id}/uploads/", {"files": files}, 201)
                start_ms.append(api_ms - before)
                if batch["rejected"]:
                    raise AssertionError(f"files rejected: {batch['rejected'][:3]}")
                list(
                    pool.map(
                        _put,
                        [file["urls"][0] for file in batch["files"]],
                        [bodies[n] for n in chunk],
                    )
                )
                puts += len(chunk)
                before = api_ms
                done = api(
                    f"/api/v1/upload-batches/{batch['id']}/complete/",
                    {"uploads": [{"upload_id": f["upload_id"]} for f in batch["files"]]},
                    200,
                )
                complete_ms.append(api_ms - before)
                if done["failed"] or len(done["completed"]) != BATCH:
                    raise AssertionError(f"completion failed: {done['failed'][:3]}")

        from galleries.models import Photo

        uploaded = Photo.objects.filter(gallery=gallery, state=Photo.State.UPLOADED).count()
        if uploaded != FILES:
            raise AssertionError(f"{uploaded} photos uploaded, not {FILES}")

    return [
        Result.at_most(
            "upload.requests_per_file (incl. PUT)",
            (api_requests + puts) / FILES,
            "requests/file",
            TARGET_REQUESTS_PER_FILE,
        ),
        Result.at_most(
            "upload.api_server_time_per_file", api_ms / FILES, "ms/file", TARGET_API_MS_PER_FILE
        ),
        Result.at_most(
            "upload.start x500 (server time)", statistics.median(start_ms), "ms", TARGET_START_MS
        ),
        Result.at_most(
            "upload.presign x500 inside start",
            statistics.median(presign_ms),
            "ms",
            TARGET_PRESIGN_MS,
        ),
        Result.at_most(
            "upload.batch_complete x500 (server time)",
            statistics.median(complete_ms),
            "ms",
            TARGET_COMPLETE_MS,
        ),
    ]
