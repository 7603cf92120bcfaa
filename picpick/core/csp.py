"""The Content-Security-Policy of the studio sites' pages (guest galleries, inquiry forms)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from picpick.core.storage import get_storage


def storage_origin() -> str:
    """Where signed image URLs point (S3, CloudFront, or the app's own /storage/)."""
    url = urlsplit(get_storage().presign_get(key="csp-origin-probe", expires_in=60))
    return f"{url.scheme}://{url.netloc}"


def origin_of(url: str) -> str:
    """``https://js.stripe.com/v3/`` -> ``https://js.stripe.com``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    *,
    frame_ancestors: str = "'none'",
    script_src: Iterable[str] = (),
    connect_src: Iterable[str] = (),
    frame_src: Iterable[str] = (),
) -> str:
    """This origin for everything, plus the storage origin for images (and the requests that
    fetch them); ``frame_ancestors`` says who may frame the page (nobody by default). A page
    that loads a third party's script (the card form's Stripe.js) names its origins in
    ``script_src``, ``connect_src`` and ``frame_src``."""
    storage = storage_origin()
    scripts = " ".join(["'self'", *script_src])
    connects = " ".join(["'self'", storage, *connect_src])
    directives = [
        "default-src 'self'",
        f"img-src 'self' data: blob: {storage}",
        f"connect-src {connects}",
        f"script-src {scripts}",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ]
    frames = list(frame_src)
    if frames:
        directives.insert(4, f"frame-src 'self' {' '.join(frames)}")
    return "; ".join(directives)
