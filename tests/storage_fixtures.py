"""Storage fixtures shared by every test package (loaded by ``tests/conftest.py``).

A real S3 API (moto's server behind the checks real S3 makes on presigned URLs, from
``picpick.testing.s3_server``) and the local backend served by a real HTTP server, so every
test sends real PUT/GET requests to presigned URLs.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message

import boto3
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import QuietWSGIRequestHandler

from picpick.core.storage import get_storage
from picpick.core.storage.s3 import S3Storage
from picpick.testing.s3_server import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, CheckedMotoServer


@pytest.fixture(scope="session")
def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = CheckedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_storage(moto_endpoint) -> S3Storage:
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    storage = S3Storage(
        bucket=BUCKET,
        region=REGION,
        endpoint_url=moto_endpoint,
        addressing_style="path",
        session=session,
    )
    storage.client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return storage


@pytest.fixture(scope="session")
def django_http_server():
    """This app behind a real HTTP server (what `make run` serves), without a database."""
    server = ThreadedWSGIServer(
        ("127.0.0.1", 0), QuietWSGIRequestHandler, allow_reuse_address=False
    )
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def local_storage(settings, tmp_path, django_http_server):
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "objects"
    settings.PICPICK_PUBLIC_URL = django_http_server
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()


@pytest.fixture
def s3_settings(settings, s3_storage, moto_endpoint, monkeypatch):
    """``get_storage()`` is the S3 backend on the moto server, configured through settings and
    the standard AWS variables as in production (the bucket is made by ``s3_storage``)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings.PICPICK_STORAGE = "s3"
    settings.PICPICK_S3_BUCKET = BUCKET
    settings.PICPICK_S3_REGION = REGION
    settings.PICPICK_S3_ENDPOINT_URL = moto_endpoint
    settings.PICPICK_S3_ADDRESSING_STYLE = "path"
    settings.PICPICK_CLOUDFRONT_DOMAIN = ""
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()


@pytest.fixture(params=["s3", "local"])
def storage(request):
    """The same behaviour, asked of both backends."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def prefix() -> str:
    """A folder of its own per test: the moto bucket lives for the whole session."""
    return f"t/{uuid.uuid4().hex}/"


@dataclass
class HttpResponse:
    status: int
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes


def send(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
):
    """A real HTTP request, as a browser or the desktop uploader would send it."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return HttpResponse(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return HttpResponse(error.code, error.headers, error.read())


def put_presigned(presigned, body: bytes, **overrides: str) -> HttpResponse:
    headers = {k: v for k, v in presigned.headers.items() if k.lower() != "content-length"}
    headers.update(overrides)
    if "Content-Type" not in headers:
        # urllib would add application/x-www-form-urlencoded; S3 clients send none or this.
        headers["Content-Type"] = "application/octet-stream"
    return send(presigned.method, presigned.url, headers=headers, body=body)


def sign_in_the_past(monkeypatch, seconds: int) -> None:
    """Move the storage clock back so URLs signed now are already old."""
    from picpick.core.storage import local, s3

    past = datetime.now(UTC) - timedelta(seconds=seconds)
    monkeypatch.setattr(s3, "utcnow", lambda: past)
    monkeypatch.setattr(local, "utcnow", lambda: past)
