"""The Content-Security-Policy of the studio sites' pages (guest galleries, inquiry forms)."""

from __future__ import annotations

from urllib.parse import urlsplit

from picpick.core.storage import get_storage


def storage_origin() -> str:
    """Where signed image URLs point (S3, CloudFront, or the app's own /storage/)."""
    url = urlsplit(get_storage().presign_get(key="csp-origin-probe", expires_in=60))
    return f"{url.scheme}://{url.netloc}"


def content_security_policy(*, frame_ancestors: str = "'none'") -> str:
    """This origin for everything, plus the storage origin for images (and the requests that
    fetch them); ``frame_ancestors`` says who may frame the page (nobody by default)."""
    storage = storage_origin()
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src 'self' data: blob: {storage}",
            f"connect-src 'self' {storage}",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )
