"""The desktop uploader against a live server: the real CLI as a subprocess, the API behind a
live Django server, storage the S3 API (moto) over HTTP; both behind fault-injecting proxies
(``picpick.testing.faultproxy``) that count requests and drop or refuse what a test says.

Parts are 1 MiB here (moto's minimum part size lowered to match) so "multipart-size" files
stay small; processing is replaced by a stand-in that marks photos ready (the uploader only
follows the counts).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from galleries import services
from galleries.models import Gallery, Photo
from picpick.core.storage import get_storage
from picpick.testing.faultproxy import FaultProxy, Forward
from picpick.testing.s3_server import BUCKET
from tests.conftest import PASSWORD

KiB = 1024
MiB = 1024 * KiB
# The server plans parts in whole MiB: 1 MiB parts, files over 1 MiB go multipart.
PART = MiB
CLI = [sys.executable, "-m", "picpick_upload"]


@dataclass
class Service:
    api: str  # the API as the uploader sees it (through api_proxy)
    api_proxy: FaultProxy
    storage_proxy: FaultProxy
    env: dict[str, str]
    home: Path

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120, **env: str):
        return subprocess.run(  # noqa: S603 - our own interpreter and module
            [*CLI, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **env},
            check=False,
        )

    def popen(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*CLI, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **env},
        )

    def login(self, email: str = "alice@example.com", *extra: str):
        result = self.run(
            "login",
            "--api",
            self.api,
            "--email",
            email,
            "--password-stdin",
            *extra,
            stdin=PASSWORD + "\n",
        )
        assert result.returncode == 0, result.stderr
        return result

    @property
    def state_db(self) -> Path:
        return self.home / "data" / "state.sqlite3"

    def state_rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.state_db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def storage_proxy(moto_endpoint):
    with FaultProxy(moto_endpoint) as proxy:
        yield proxy


@pytest.fixture
def api_proxy(live_server):
    with FaultProxy(live_server.url) as proxy:
        yield proxy


@pytest.fixture
def processed(monkeypatch) -> list[str]:
    """Processing's stand-in: the photo is ready at once (ids recorded)."""
    from galleries import tasks

    calls: list[str] = []

    def process(photo_id: str) -> None:
        calls.append(photo_id)
        Photo.objects.filter(id=photo_id, state=Photo.State.UPLOADED).update(
            state=Photo.State.READY
        )

    monkeypatch.setattr(tasks.photo_process, "delay", process)
    return calls


@pytest.fixture
def service(
    live_server,
    s3_settings,
    settings,
    storage_proxy,
    api_proxy,
    monkeypatch,
    tmp_path,
    alice,
    processed,
) -> Service:
    import moto.s3.models

    settings.PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES = PART
    settings.PICPICK_UPLOAD_PART_BYTES = PART
    # Presigned URLs name the proxy, so the uploader's PUTs pass through it.
    settings.PICPICK_S3_ENDPOINT_URL = storage_proxy.url
    get_storage.cache_clear()
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PICPICK_UPLOAD_CONFIG_DIR": str(home / "config"),
        "PICPICK_UPLOAD_DATA_DIR": str(home / "data"),
        "PICPICK_UPLOAD_RETRY_WAIT": "0.05",
        "PICPICK_UPLOAD_RETRY_MAX_WAIT": "0.5",
        "PICPICK_UPLOAD_RETRIES": "8",
        "COLUMNS": "120",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    yield Service(
        api=api_proxy.url, api_proxy=api_proxy, storage_proxy=storage_proxy, env=env, home=home
    )
    get_storage.cache_clear()


@pytest.fixture
def gallery(studio_a, alice) -> Gallery:
    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


# --- photo files -------------------------------------------------------------------------------
_JPEG_HEAD: bytes | None = None


def jpeg_head() -> bytes:
    global _JPEG_HEAD
    if _JPEG_HEAD is None:
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="JPEG")
        _JPEG_HEAD = out.getvalue()
    return _JPEG_HEAD


def photo_bytes(size: int, seed: int) -> bytes:
    """A valid JPEG followed by ``size`` bytes in all of filler unique to ``seed``."""
    head = jpeg_head()
    rng = random.Random(seed)
    return head + rng.randbytes(max(0, size - len(head)))


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds, or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def write_photo(path: Path, size: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo_bytes(size, seed))
    return path


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def stored_photos(gallery: Gallery) -> list[Photo]:
    return list(Photo.objects.filter(gallery=gallery).order_by("filename"))


def assert_each_exactly_once(gallery: Gallery, files: list[Path], s3_storage) -> None:
    """Every file is one photo of the gallery, whose stored object has the file's bytes."""
    photos = stored_photos(gallery)
    by_checksum: dict[str, list[Photo]] = {}
    for photo in photos:
        by_checksum.setdefault(photo.checksum, []).append(photo)
    for path in files:
        data = path.read_bytes()
        found = by_checksum.get(sha256_b64(data), [])
        assert len(found) == 1, f"{path.name}: {len(found)} photos"
        photo = found[0]
        assert photo.state in (Photo.State.UPLOADED, Photo.State.READY), photo.state
        body = s3_storage.client.get_object(Bucket=BUCKET, Key=photo.original_key)["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest(), path.name
    assert len(photos) == len(files)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def part_puts(proxy: FaultProxy) -> list[tuple[str, int]]:
    """(object path, part number) of every part PUT that reached storage."""
    out = []
    for record in proxy.snapshot():
        head = record.head
        if head.method == "PUT" and head.presigned and "partNumber=" in head.query:
            number = int(head.query.split("partNumber=")[1].split("&")[0])
            out.append((head.path, number))
    return out


def forward_all(head) -> Forward:
    return Forward()
