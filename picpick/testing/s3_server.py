"""An S3 API for tests and benchmarks: moto's server behind the checks real S3 makes.

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
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

REGION = "eu-west-1"
BUCKET = "picpick-test"
ACCESS_KEY = "AKIAPICPICKTEST00001"
SECRET_KEY = "picpick-test-secret-not-a-real-one"  # noqa: S105 -- the local moto server's


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
