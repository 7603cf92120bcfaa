"""A small AWS Signature V4 query-string presigner for S3.

Why not ``boto3``'s ``generate_presigned_url``: it builds every URL through botocore's event
and serializer machinery, about 0.3 ms each on our machines, so the 500 part URLs of a large
upload batch took ~160 ms against a 50 ms budget. Signing is only a SHA-256 and an HMAC over a
short string; this module does exactly what botocore's ``S3SigV4QueryAuth`` does (same
canonical request, same query order), and a test proves the URLs byte-identical to botocore's
for the same inputs and clock, and valid against an S3 server.

Reference: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from datetime import datetime
from threading import Lock
from typing import NamedTuple
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %-encoded (botocore's
    # percent_encode with SAFE_CHARS).
    return quote(value, safe="-_.~")


def encode_key(key: str) -> str:
    """An object key as a URL path: ``/`` stays, as botocore renders ``{Key+}``."""
    return quote(key, safe="/~")


class SigV4Presigner:
    """Presigns requests to one bucket.

    ``bucket_url`` is the bucket's base URL exactly as botocore addresses it (path or virtual
    style, regional endpoint): ``S3Storage`` derives it from one botocore-presigned URL so the
    two can never disagree about endpoints. ``credentials`` is called once per batch so
    rotating credentials (instance roles) are picked up.
    """

    def __init__(
        self,
        *,
        bucket_url: str,
        region: str,
        credentials: Callable[[], Credentials],
        service: str = "s3",
    ) -> None:
        parts = urlsplit(bucket_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        # The Host header as botocore signs it: no default port, no userinfo.
        if parts.port is None or parts.port == default_port:
            self._host = parts.hostname or ""
        else:
            self._host = parts.netloc.rpartition("@")[-1]
        self.region = region
        self.service = service
        self._credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = Lock()

    def credentials(self) -> Credentials:
        return self._credentials()

    def _signing_key(self, secret: str, datestamp: str) -> bytes:
        # The derived key depends only on the day (plus secret/region/service), so four
        # HMACs per URL become one per day.
        cache_key = (secret, datestamp)
        key = self._keys.get(cache_key)
        if key is None:
            key = hmac.new(f"AWS4{secret}".encode(), datestamp.encode(), hashlib.sha256).digest()
            for part in (self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            with self._lock:
                if len(self._keys) > 8:  # old days and rotated secrets
                    self._keys.clear()
                self._keys[cache_key] = key
        return key

    def presign(
        self,
        *,
        method: str,
        key: str,
        expires_in: int,
        now: datetime,
        query: Iterable[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
        credentials: Credentials | None = None,
    ) -> str:
        """The presigned URL of ``method`` on ``key``.

        ``query`` holds the operation's parameters (``uploadId``, ``partNumber``,
        ``response-content-disposition``) in the order botocore would put them; ``headers``
        are signed, so the client must send them verbatim. ``now`` must be UTC.
        """
        creds = credentials or self._credentials()
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        datestamp = amz_date[:8]
        scope = f"{datestamp}/{self.region}/{self.service}/aws4_request"
        path = f"{self._base_path}/{encode_key(key)}"

        signed = {"host": self._host}
        for name, value in (headers or {}).items():
            signed[name.lower()] = " ".join(str(value).split())
        names = sorted(signed)
        signed_headers = ";".join(names)
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)

        pairs = [(_encode(k), _encode(v)) for k, v in query]
        pairs += [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", _encode(f"{creds.access_key}/{scope}")),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", _encode(signed_headers)),
        ]
        if creds.token is not None:
            pairs.append(("X-Amz-Security-Token", _encode(creds.token)))
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(pairs))

        canonical_request = "\n".join(
            (
                method,
                path,
                canonical_query,
                canonical_headers,
                signed_headers,
                UNSIGNED_PAYLOAD,
            )
        )
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            )
        )
        signature = hmac.new(
            self._signing_key(creds.secret_key, datestamp),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        query_string = "&".join(f"{k}={v}" for k, v in pairs)
        return f"{self._origin}{path}?{query_string}&X-Amz-Signature={signature}"
