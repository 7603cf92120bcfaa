"""Storage fixtures shared by every test package (loaded by ``tests/conftest.py``).

A real S3 API (moto's server) and the local backend served by a real HTTP server, so every
test sends real PUT/GET requests to presigned URLs.

moto stores objects faithfully but does not check presigned URLs: it ignores the signature,
the expiry and ``x-amz-checksum-sha256``. Real S3 refuses a request whose signed headers
(Content-Type, Content-Length, checksum) differ, an expired URL, and a body that does not hash
to its declared checksum. ``S3PresignChecks`` makes those checks in front of moto, verifying
the signature with botocore's own ``S3SigV4QueryAuth`` (not with our presigner), so our URLs
are proven valid by an independent implementation.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import QuietWSGIRequestHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from picpick.core.storage import get_storage
from picpick.core.storage.s3 import S3Storage

REGION = "eu-west-1"
BUCKET = "picpick-test"
ACCESS_KEY = "AKIAPICPICKTEST00001"
SECRET_KEY = "picpick-test-secret-not-a-real-one"


def _xml_error(start_response, status: str, code: str, message: str):
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


class S3PresignChecks:
    """WSGI middleware: what S3 checks on a presigned (query-signed) request, before moto."""

    def __init__(self, app) -> None:
        self.app = app
        self.credentials = Credentials(ACCESS_KEY, SECRET_KEY)

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        params = parse_qs(query, keep_blank_values=True)
        if "X-Amz-Signature" not in params:
            return self.app(environ, start_response)  # an SDK call, signed in a header
        amz_date = params["X-Amz-Date"][0]
        expires = int(params["X-Amz-Expires"][0])
        if expires > 604800:
            return _xml_error(
                start_response, "400 Bad Request", "AuthorizationQueryParametersError", "X"
            )
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            return _xml_error(
                start_response, "403 Forbidden", "AccessDenied", "Request has expired"
            )
        if not params["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/"):
            return _xml_error(start_response, "403 Forbidden", "InvalidAccessKeyId", "X")

        headers = {}
        for name in params["X-Amz-SignedHeaders"][0].split(";"):
            if name == "host":
                continue
            meta_name = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(
                name, "HTTP_" + name.upper().replace("-", "_")
            )
            if environ.get(meta_name) is None:
                return _xml_error(start_response, "403 Forbidden", "SignatureDoesNotMatch", name)
            headers[name] = environ[meta_name]
        raw_path = environ["RAW_URI"].partition("?")[0]
        unsigned_query = "&".join(
            pair for pair in query.split("&") if not pair.startswith("X-Amz-Signature=")
        )
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ['HTTP_HOST']}{raw_path}?{unsigned_query}",
            headers=headers,
        )
        request.context["timestamp"] = amz_date
        auth = S3SigV4QueryAuth(self.credentials, "s3", REGION, expires=expires)
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        if expected != params["X-Amz-Signature"][0]:
            return _xml_error(start_response, "403 Forbidden", "SignatureDoesNotMatch", "X")

        declared = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
        if declared is not None:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if actual != declared:
                return _xml_error(start_response, "400 Bad Request", "BadDigest", "X")
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


class CheckedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = S3PresignChecks(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


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
