"""Sending one file's bytes: a single PUT or the parts of a multipart upload, resumed from
what storage already has, with URLs renewed when they expire and the file checked for changes
before and after (a changed file is never completed: its upload is aborted and the new bytes
start over as a new upload).

The engine calls ``Sender.send`` from its upload threads; what cannot be sent is said by the
exceptions below, which the engine turns into its events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from picpick_upload import scanner, transfer
from picpick_upload.api import Api
from picpick_upload.errors import ApiError, Interrupted
from picpick_upload.output import Reporter
from picpick_upload.retry import call_with_retries
from picpick_upload.state import StateDB

if TYPE_CHECKING:
    from picpick_upload.engine import Item, PushOptions

logger = logging.getLogger(__name__)

MAX_PART_URLS_PER_REQUEST = 100
MAX_URL_RENEWALS = 5
MAX_BODY_RETRIES = 3


class Restart(Exception):
    """Start this file again as a new upload (it changed, or its upload is gone)."""

    def __init__(self, reason: str, *, changed: bool = False) -> None:
        super().__init__(reason)
        self.changed = changed


class FileFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Vanished(Exception):
    """The file is no longer on disk."""


class Sender:
    def __init__(
        self,
        *,
        api: Api,
        db: StateDB,
        options: PushOptions,
        reporter: Reporter,
        stop: threading.Event,
        storage: httpx.Client,
        stats: transfer.SendStats,
        on_bytes: Callable[[int], None],
    ) -> None:
        self.api = api
        self.db = db
        self.options = options
        self.reporter = reporter
        self.stop = stop
        self.storage = storage
        self.stats = stats
        self.on_bytes = on_bytes

    def abort_quietly(self, upload_id: str) -> None:
        try:
            self.api.delete(f"/uploads/{upload_id}/", what="aborting an upload")
        except ApiError as exc:
            logger.info("abort of %s answered %s", upload_id, exc.code)

    def unchanged(self, item: Item) -> bool:
        current = scanner.found_file(self.options.folder, item.found.path)
        if current is None:
            raise Vanished()
        assert item.row is not None
        return (current.size, current.mtime_ns) == (item.row.size, item.row.mtime_ns)

    def changed(self, item: Item) -> Restart:
        """The file is not the one started: abort that upload, start the new bytes anew."""
        assert item.row is not None
        if item.row.upload_id:
            self.abort_quietly(item.row.upload_id)
        logger.warning("%s changed while it was uploaded; uploading it again", item.relpath)
        return Restart("changed", changed=True)

    def send(self, item: Item) -> None:
        row = item.row
        assert row is not None and row.upload_id
        if self.stop.is_set():
            raise Interrupted("interrupted", code="interrupted")
        if not self.unchanged(item):
            raise self.changed(item)
        self.reporter.file_started(item.relpath, row.size)
        try:
            if row.method == "multipart":
                self._send_multipart(item)
            else:
                self._send_single(item)
        except FileNotFoundError as exc:
            raise Vanished() from exc
        finally:
            self.reporter.file_finished(item.relpath)
        if not self.unchanged(item):
            raise self.changed(item)
        if (
            row.method == "multipart"
            and scanner.sha256_file(item.found.path, self.stop) != row.sha256
        ):
            # Multipart bytes are not checked against the file's SHA-256 by storage: hash the
            # file again before completing (the stat can miss a same-second rewrite).
            raise self.changed(item)

    def _upload_detail(self, upload_id: str) -> dict:
        try:
            return self.api.get(f"/uploads/{upload_id}/", what="resuming an upload")
        except ApiError as exc:
            if exc.status == 404:
                raise Restart("upload gone") from exc
            raise

    def _renewed(self, item: Item) -> dict:
        assert item.row is not None
        try:
            upload = self.api.post(f"/uploads/{item.row.upload_id}/renew/", what="renewing URLs")
        except ApiError as exc:
            if exc.code == "upload_completed":
                return {"state": "completed", "urls": []}
            if exc.status in (404, 409):
                raise Restart(exc.code) from exc
            raise
        self.stats.add(renewed=1)
        return upload

    def _send_single(self, item: Item) -> None:
        row = item.row
        assert row is not None
        upload = item.upload or {}
        url = upload["urls"][0] if upload.get("urls") else None
        renewals = body_retries = 0
        while True:
            if url is None or _expiring(url):
                upload = self._renewed(item)
                if upload.get("state") == "completed" or not upload.get("urls"):
                    return
                url = upload["urls"][0]
            try:
                self._put(item, url, 0, row.size, check_md5=False)
                return
            except transfer.AlreadyStored:
                return  # an earlier attempt stored it (create-only URL): complete checks it
            except transfer.UrlExpired:
                renewals += 1
                if renewals > MAX_URL_RENEWALS:
                    raise FileFailed("url_refused", "Storage kept refusing fresh URLs.") from None
                url = None
            except transfer.BodyRejected as exc:
                # BadDigest: the bytes read were not the declared SHA-256 -- the file changed
                # (or, rarely, bytes were altered on the way: then it is sent again).
                if (
                    exc.code == "file_changed"
                    or not self.unchanged(item)
                    or scanner.sha256_file(item.found.path) != row.sha256
                ):
                    raise self.changed(item) from exc
                body_retries += 1
                if body_retries > MAX_BODY_RETRIES:
                    raise FileFailed(exc.code, str(exc)) from exc

    def _send_multipart(self, item: Item) -> None:
        row = item.row
        assert row is not None and row.upload_id
        upload = item.upload
        local = self.db.parts_done(row.upload_id)
        if upload is None or upload.get("replayed") or local:
            # Resuming: storage is the truth about which parts it has.
            upload = self._upload_detail(row.upload_id)
            if upload["state"] == "completed":
                return
            if upload["state"] != "pending" or upload.get("failure_code"):
                raise Restart(upload["state"])
            for part in upload.get("uploaded_parts", []):
                if local.get(part["part_number"], ("",))[0] != part["etag"]:
                    self.db.part_done(
                        row.upload_id, part["part_number"], part["etag"], part["size"]
                    )
                self.reporter.bytes_already(part["size"])
            have = {part["part_number"] for part in upload.get("uploaded_parts", [])}
            missing = [n for n in range(1, row.part_count + 1) if n not in have]
        else:
            missing = list(range(1, row.part_count + 1))
        urls: dict[int, dict] = {
            u["part_number"]: u for u in upload.get("urls", []) if u.get("part_number")
        }
        urls_lock = threading.Lock()

        def url_for(number: int, *, fresh: bool = False) -> dict:
            with urls_lock:
                url = urls.get(number)
                if url is not None and not fresh and not _expiring(url):
                    return url
                others = [n for n in missing if n != number and (n not in urls or fresh)]
                wanted = [number, *others[: MAX_PART_URLS_PER_REQUEST - 1]]
                try:
                    answer = self.api.post(
                        f"/uploads/{row.upload_id}/parts/",
                        {"part_numbers": sorted(set(wanted))},
                        what="asking for part URLs",
                    )
                except ApiError as exc:
                    if exc.status in (404, 409):
                        raise Restart(exc.code) from exc
                    raise
                self.stats.add(renewed=1)
                for u in answer["urls"]:
                    urls[u["part_number"]] = u
                return urls[number]

        def send_part(number: int) -> None:
            offset = (number - 1) * row.part_size
            length = min(row.part_size, row.size - offset)
            url = url_for(number)
            renewals = body_retries = 0
            while True:
                if self.stop.is_set():
                    raise Interrupted("interrupted", code="interrupted")
                try:
                    etag = self._put(item, url, offset, length, check_md5=True)
                except transfer.UrlExpired:
                    renewals += 1
                    if renewals > MAX_URL_RENEWALS:
                        raise FileFailed("url_refused", "Storage kept refusing URLs.") from None
                    url = url_for(number, fresh=True)
                    continue
                except transfer.UploadGone as exc:
                    raise Restart("multipart upload gone") from exc
                except (transfer.ChecksumMismatch, transfer.BodyRejected) as exc:
                    if isinstance(exc, transfer.BodyRejected) and exc.code == "file_changed":
                        raise self.changed(item) from exc
                    body_retries += 1
                    logger.warning("part %d of %s: %s; sending it again", number, item.relpath, exc)
                    if body_retries > MAX_BODY_RETRIES:
                        raise FileFailed("part_rejected", str(exc)) from exc
                    continue
                self.db.part_done(row.upload_id, number, etag, length)
                return

        if not missing:
            return
        workers = max(1, min(self.options.part_concurrency, len(missing)))
        if workers == 1:
            for number in missing:
                send_part(number)
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix="part")
        try:
            futures = [pool.submit(send_part, n) for n in missing]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                if future.done() and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
        finally:
            # On an error the parts not begun are dropped; those in flight finish (or stop).
            pool.shutdown(wait=True, cancel_futures=True)

    def _put(self, item: Item, url: dict, offset: int, length: int, *, check_md5: bool) -> str:
        attempts = 0

        def once() -> str:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self.stats.add(retried=1)
            self.stats.add(puts=1)
            return transfer.put(
                self.storage,
                url=url,
                path=item.found.path,
                offset=offset,
                length=length,
                on_bytes=self.on_bytes,
                stop=self.stop,
                check_md5=check_md5,
            )

        return call_with_retries(
            once, policy=self.api.policy, stop=self.stop, what=f"sending {item.relpath}"
        )


def _expiring(url: dict, margin: float = 30.0) -> bool:
    """The URL expires within ``margin`` seconds (by the server's ``expires_at``)."""
    raw = url.get("expires_at")
    if not raw:
        return False
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return False
    return when.timestamp() - time.time() < margin
