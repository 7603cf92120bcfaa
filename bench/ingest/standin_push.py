"""A stand-in for ``picpick-upload push`` while the real CLI is not there: single PUTs only,
no resume. Used by ``bench.ingest.uploader`` when ``picpick-upload`` has no ``push``.

    python -m bench.ingest.standin_push API EMAIL GALLERY_ID FOLDER  (password on stdin)
"""

from __future__ import annotations

import base64
import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

CHUNK = 1024 * 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def _stream(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def main(api: str, email: str, gallery_id: str, folder: str) -> int:
    password = sys.stdin.readline().strip()
    client = httpx.Client(base_url=api, timeout=60)
    login = client.post("/api/v1/auth/login/", json={"email": email, "password": password})
    login.raise_for_status()
    client.headers["Authorization"] = f"Bearer {login.json()['access']}"
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    with ThreadPoolExecutor(4) as pool:
        sums = list(pool.map(_sha256, paths))
    files = [
        {
            "name": path.name,
            "size": path.stat().st_size,
            "content_type": "image/x-adobe-dng" if path.suffix.lower() == ".dng" else "image/jpeg",
            "checksum_sha256": checksum,
        }
        for path, checksum in zip(paths, sums, strict=True)
    ]
    started = client.post(f"/api/v1/galleries/{gallery_id}/uploads/", json={"files": files})
    started.raise_for_status()
    body = started.json()
    if body.get("rejected"):
        print(f"rejected: {body['rejected'][:3]}", file=sys.stderr)

    def send(item: dict) -> None:
        url = item["urls"][0]
        with httpx.Client(timeout=120) as storage:
            path = paths[item["index"]]
            headers = {**url["headers"], "Content-Length": str(path.stat().st_size)}
            answer = storage.put(url["url"], headers=headers, content=_stream(path))
        answer.raise_for_status()
        done = client.post(f"/api/v1/uploads/{item['upload_id']}/complete/", json={})
        done.raise_for_status()
        print(f"done {paths[item['index']].name}", flush=True)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, body["files"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
