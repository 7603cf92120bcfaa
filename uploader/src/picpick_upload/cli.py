"""The command line: login, logout, push, status, watch."""

from __future__ import annotations

import getpass
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from picpick_upload import __version__, config
from picpick_upload import api as api_mod
from picpick_upload.api import Api
from picpick_upload.config import Session
from picpick_upload.engine import Engine, PushOptions, PushResult
from picpick_upload.errors import (
    EXIT_FILES_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    ApiError,
    AuthError,
    Interrupted,
    UploaderError,
    UsageError,
)
from picpick_upload.output import JsonReporter, Reporter, RichReporter
from picpick_upload.processing import ProgressFollower
from picpick_upload.retry import RetryPolicy
from picpick_upload.scanner import scan
from picpick_upload.state import StateDB, open_state

RESUME_HINT = "Run the same command again to resume."


def _fail(message: str, code: int, *, as_json: bool = False, error: str = "error") -> None:
    if as_json:
        import json

        click.echo(json.dumps({"event": "error", "code": error, "message": message}))
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (and SIGTERM) ask for a clean stop; a second Ctrl-C leaves at once."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        click.echo("\nStopping: finishing what is in flight, saving state...", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Redact(logging.Filter):
    """Presigned URLs' signatures and tokens never reach the log, even at -vv."""

    PATTERNS = (
        (
            re.compile(r"(X-Amz-Signature|X-Amz-Security-Token|Signature|ticket)=[^&\s'\"]+"),
            r"\1=[redacted]",
        ),
        (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern, replacement in self.PATTERNS:
            message = pattern.sub(replacement, message)
        record.msg, record.args = message, None
        return True


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Redact())
    logging.getLogger("httpx").setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _session_or_exit(as_json: bool = False) -> Session:
    session = config.session_load()
    if session is None:
        _fail(
            "Not logged in: run `picpick-upload login` first.",
            2,
            as_json=as_json,
            error="not_logged_in",
        )
    assert session is not None
    return session


def _handle(as_json: bool, func: Callable[[], int]) -> None:
    """Run a command, turning the uploader's errors into messages and exit codes."""
    try:
        code = func()
    except KeyboardInterrupt:  # before the clean-stop handler was in place
        _fail(f"Interrupted. {RESUME_HINT}", EXIT_INTERRUPTED, as_json=as_json, error="interrupted")
    except Interrupted:
        _fail(f"Interrupted. {RESUME_HINT}", EXIT_INTERRUPTED, as_json=as_json, error="interrupted")
    except ApiError as exc:
        _fail(f"{exc.message} ({exc.code})", exc.exit_code, as_json=as_json, error=exc.code)
    except UploaderError as exc:
        hint = f" {RESUME_HINT}" if exc.exit_code == EXIT_NETWORK else ""
        _fail(exc.message + hint, exc.exit_code, as_json=as_json, error=exc.code)
    sys.exit(code)


@click.group()
@click.version_option(__version__, prog_name="picpick-upload")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv: HTTP too).")
def main(verbose: int) -> None:
    """Upload a folder of photos to a PicPick gallery; run it again to resume."""
    _setup_logging(verbose)


# --- login / logout ----------------------------------------------------------------------------
@main.command()
@click.option("--api", "api_url", envvar="PICPICK_API_URL", help="The service's URL.")
@click.option("--email", help="Your account's email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--studio", help="The studio (slug or id) when the account has several.")
def login(api_url: str | None, email: str | None, password_stdin: bool, studio: str | None) -> None:
    """Log in and keep the session in your config dir (readable by you only)."""

    def run() -> int:
        url = api_mod.normalize_api_url(api_url or click.prompt("PicPick URL"))
        address = email or click.prompt("Email")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password: ")
        if not password:
            raise UsageError("No password given.")
        stop = threading.Event()
        policy = RetryPolicy.from_env()
        answer = api_mod.login(api=url, email=address, password=password, policy=policy, stop=stop)
        session = Session(
            api=url,
            email=answer["user"]["email"],
            studio_id=(answer.get("studio") or {}).get("id"),
            studio_name=(answer.get("studio") or {}).get("name", ""),
            studio_slug=(answer.get("studio") or {}).get("slug", ""),
            access=answer["access"],
            refresh=answer["refresh"],
        )
        client = Api(session, policy=policy, stop=stop, persist=False)
        try:
            studios = client.get("/studios/", what="listing your studios")
            studios = studios.get("results", studios) if isinstance(studios, dict) else studios
            if studio:
                wanted = next((s for s in studios if studio in (str(s["id"]), s.get("slug"))), None)
                if wanted is None:
                    names = ", ".join(s.get("slug", str(s["id"])) for s in studios) or "none"
                    raise UsageError(
                        f"You are not a member of a studio {studio!r} (yours: {names})."
                    )
                if str(wanted["id"]) != session.studio_id:
                    pair = client.post(
                        "/auth/switch-studio/",
                        {"studio_id": str(wanted["id"])},
                        what="choosing the studio",
                    )
                    session.access, session.refresh = pair["access"], pair["refresh"]
                    session.studio_id = str(wanted["id"])
                    session.studio_name = wanted.get("name", "")
                    session.studio_slug = wanted.get("slug", "")
        finally:
            client.close()
        if not session.studio_id:
            raise UsageError("This account is not a member of any studio.")
        config.session_save(session)
        click.echo(
            f"Logged in to {url} as {session.email}, studio "
            f"{session.studio_name or session.studio_slug} ({session.studio_slug})."
        )
        others = [s for s in studios if str(s["id"]) != session.studio_id]
        if others and not studio:
            slugs = ", ".join(s.get("slug", str(s["id"])) for s in others)
            click.echo(f"You are also a member of: {slugs} (choose with --studio).")
        return EXIT_OK

    _handle(False, run)


@main.command()
def logout() -> None:
    """Revoke the session and delete it from this computer."""

    def run() -> int:
        session = config.session_load()
        if session is None:
            click.echo("Not logged in.")
            return EXIT_OK
        try:
            api_mod.logout(session, policy=RetryPolicy.from_env(), stop=threading.Event())
        except UploaderError as exc:  # the local session goes anyway
            click.echo(f"Could not revoke the session on the server ({exc.message}).", err=True)
        config.session_delete()
        click.echo("Logged out.")
        return EXIT_OK

    _handle(False, run)


# --- push --------------------------------------------------------------------------------------
def _resolve_gallery(
    client: Api, db: StateDB, *, gallery: str | None, new_gallery: str | None, folder: Path
) -> tuple[str, str]:
    """(gallery id, name): the given one, or the one --new-gallery made for this folder."""
    session = client.session
    if gallery:
        try:
            found = client.get(f"/galleries/{gallery}/", what="finding the gallery")
        except ApiError as exc:
            if exc.status in (400, 404):
                raise UsageError(
                    f"Gallery not found: {gallery} (not a gallery of studio "
                    f"{session.studio_slug or session.studio_id}).",
                    code="gallery_not_found",
                ) from exc
            raise
        return str(found["id"]), found.get("name", "")
    assert new_gallery is not None
    known = db.new_gallery_get(session.api, str(session.studio_id), str(folder), new_gallery)
    if known:
        try:
            found = client.get(f"/galleries/{known}/", what="finding the gallery")
            return str(found["id"]), found.get("name", "")
        except ApiError as exc:
            if exc.status != 404:
                raise
    created = client.post("/galleries/", {"name": new_gallery}, what="creating the gallery")
    db.new_gallery_put(
        session.api, str(session.studio_id), str(folder), new_gallery, str(created["id"])
    )
    return str(created["id"]), created.get("name", new_gallery)


def _resolve_album(client: Api, gallery_id: str, name: str) -> str:
    albums = client.get(f"/galleries/{gallery_id}/albums/", what="listing albums")["results"]
    for album in albums:
        if album["name"].strip().casefold() == name.strip().casefold():
            return str(album["id"])
    created = client.post(
        f"/galleries/{gallery_id}/albums/", {"name": name}, what="creating the album"
    )
    return str(created["id"])


def _result_data(result: PushResult, gallery_id: str, seconds: float) -> dict:
    return {
        "gallery_id": gallery_id,
        "files": result.total,
        "uploaded": result.uploaded,
        "already": result.already,
        "duplicates": result.duplicates,
        "failed": [{"path": p, "code": c, "message": m} for p, c, m in result.failed],
        "changed": result.changed,
        "vanished": result.vanished,
        "bytes_sent": result.bytes_sent,
        "puts": result.puts,
        "seconds": round(seconds, 3),
        "interrupted": result.interrupted,
        "network_error": result.network_error,
    }


class _Push:
    """What push and watch share: the session, the state db, the engine."""

    def __init__(
        self,
        *,
        folder: Path,
        gallery: str | None,
        new_gallery: str | None,
        album: str | None,
        concurrency: int,
        part_concurrency: int,
        as_json: bool,
    ) -> None:
        if bool(gallery) == bool(new_gallery):
            raise UsageError("Give exactly one of --gallery ID or --new-gallery NAME.")
        if not folder.is_dir():
            raise UsageError(f"Not a folder: {folder}")
        self.folder = folder.resolve()
        self.stop = threading.Event()
        self.as_json = as_json
        session = _session_or_exit(as_json)
        self.reporter: Reporter = JsonReporter() if as_json else RichReporter()
        self.client = Api(session, stop=self.stop, max_connections=max(8, concurrency * 2))
        self.db = open_state(config.data_dir())
        self.gallery_id, self.gallery_name = _resolve_gallery(
            self.client, self.db, gallery=gallery, new_gallery=new_gallery, folder=self.folder
        )
        self.album_id = _resolve_album(self.client, self.gallery_id, album) if album else None
        self.options = PushOptions(
            server=session.api,
            gallery_id=self.gallery_id,
            folder=self.folder,
            album_id=self.album_id,
            concurrency=max(1, concurrency),
            part_concurrency=max(1, part_concurrency),
        )
        self.batch_ids: set[str] = set()

    def close(self) -> None:
        self.reporter.close()
        self.client.close()
        self.db.close()

    def push(self, files: list, *, forget_missing: bool = False) -> PushResult:
        engine = Engine(
            api=self.client,
            db=self.db,
            options=self.options,
            reporter=self.reporter,
            stop=self.stop,
        )
        try:
            gone = engine.forget_missing(files) if forget_missing else []
            if gone:
                self.reporter.message(
                    f"{len(gone)} files an earlier push started are no longer in the folder: "
                    "their uploads were cancelled."
                )
            result = engine.run(files)
        finally:
            engine.close()
        result.vanished[:0] = gone
        self.batch_ids |= result.batch_ids
        return result

    def follow_processing(self) -> dict:
        follower = ProgressFollower(
            api=self.client,
            gallery_id=self.gallery_id,
            batch_ids=sorted(self.batch_ids),
            on_counts=self.reporter.processing,
            stop=self.stop,
        )
        return follower.wait()


def _exit_code(result: PushResult) -> int:
    if result.network_error:
        return EXIT_NETWORK
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.failed:
        return EXIT_FILES_FAILED
    return EXIT_OK


_push_options = [
    click.option("--gallery", "gallery", metavar="ID", help="An existing gallery's id."),
    click.option(
        "--new-gallery",
        "new_gallery",
        metavar="NAME",
        help="Create a gallery (once: a re-run reuses it).",
    ),
    click.option("--album", metavar="NAME", help="Put the photos in this album (made if new)."),
    click.option("--concurrency", default=4, show_default=True, help="Files sent at once."),
    click.option(
        "--part-concurrency",
        default=4,
        show_default=True,
        help="Parts of one large file sent at once.",
    ),
    click.option("--json", "as_json", is_flag=True, help="JSON lines on stdout, for scripts."),
]


def _with_push_options(func: Callable) -> Callable:
    for option in reversed(_push_options):
        func = option(func)
    return func


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@_with_push_options
@click.option("--no-wait", is_flag=True, help="Do not wait for processing after the upload.")
def push(
    folder: Path,
    gallery: str | None,
    new_gallery: str | None,
    album: str | None,
    concurrency: int,
    part_concurrency: int,
    as_json: bool,
    no_wait: bool,
) -> None:
    """Upload the photos of FOLDER (recursive) to a gallery; run again to resume."""

    def run() -> int:
        pusher = _Push(
            folder=folder,
            gallery=gallery,
            new_gallery=new_gallery,
            album=album,
            concurrency=concurrency,
            part_concurrency=part_concurrency,
            as_json=as_json,
        )
        began = time.monotonic()
        server = pusher.options.server
        try:
            with _signals(pusher.stop):
                files, ignored = scan(pusher.folder)
                if ignored and not as_json:
                    pusher.reporter.message(
                        f"{len(ignored)} files are not photos the service takes; left out."
                    )
                pusher.db.push_begin(
                    server, pusher.gallery_id, str(pusher.folder), pusher.gallery_name
                )
                result = pusher.push(files, forget_missing=True)
                code = _exit_code(result)
                data = _result_data(result, pusher.gallery_id, time.monotonic() - began)
                if (
                    code in (EXIT_OK, EXIT_FILES_FAILED)
                    and not no_wait
                    and (result.uploaded or result.already)
                ):
                    try:
                        data["processing"] = pusher.follow_processing()
                    except Interrupted:
                        data["hint"] = (
                            "The files are uploaded; processing continues on the "
                            "server (see `picpick-upload status`)."
                        )
                        code = EXIT_INTERRUPTED
                if code in (EXIT_INTERRUPTED, EXIT_NETWORK) and "hint" not in data:
                    data["hint"] = (
                        f"Network gave up ({result.network_error}). {RESUME_HINT}"
                        if code == EXIT_NETWORK
                        else f"Interrupted. {RESUME_HINT}"
                    )
                pusher.db.push_end(
                    server,
                    pusher.gallery_id,
                    str(pusher.folder),
                    {0: "done", 1: "failed", 3: "network", 130: "interrupted"}.get(code, "error"),
                )
                data["exit_code"] = code
                pusher.reporter.summary(data)
                return code
        finally:
            pusher.close()

    _handle(as_json, run)


# --- status ------------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def status(as_json: bool) -> None:
    """What was pushed from this computer, and the server's processing counts."""

    def run() -> int:
        import json

        db = open_state(config.data_dir())
        session = config.session_load()
        client = None
        if session is not None:
            policy = RetryPolicy(attempts=2, initial_wait=0.5, max_wait=1.0)
            client = Api(session, policy=policy)
        pushes = []
        try:
            for push_row in db.pushes():
                rows = db.folder_files(push_row.server, push_row.gallery_id, push_row.folder)
                done = [r for r in rows if r.state == "completed"]
                dupes = [r for r in rows if r.state == "duplicate"]
                failed = [r for r in rows if r.state == "failed"]
                left = [r for r in rows if r.state in ("pending", "started")]
                entry: dict[str, Any] = {
                    "server": push_row.server,
                    "gallery_id": push_row.gallery_id,
                    "gallery_name": push_row.gallery_name,
                    "folder": push_row.folder,
                    "files_done": len(done),
                    "files_duplicate": len(dupes),
                    "files_failed": len(failed),
                    "files_left": len(left),
                    "bytes_done": sum(r.size for r in done),
                    "bytes_left": sum(r.size for r in left),
                    "last_run": time.strftime(
                        "%Y-%m-%dT%H:%M:%S%z", time.localtime(push_row.started_at)
                    ),
                    "last_outcome": push_row.outcome,
                    "server_progress": None,
                }
                if client is not None and session is not None and session.api == push_row.server:
                    entry["server_progress"] = _server_progress(client, push_row.gallery_id, rows)
                pushes.append(entry)
        finally:
            if client is not None:
                client.close()
            db.close()
        if as_json:
            click.echo(json.dumps({"pushes": pushes}))
            return EXIT_OK
        if not pushes:
            click.echo("Nothing pushed from this computer yet.")
        for entry in pushes:
            click.echo(
                f"{entry['folder']} -> gallery {entry['gallery_name'] or ''} "
                f"({entry['gallery_id']}) on {entry['server']}"
            )
            click.echo(
                f"  {entry['files_done']} uploaded, {entry['files_duplicate']} duplicates, "
                f"{entry['files_failed']} failed, {entry['files_left']} left "
                f"({entry['bytes_left']} bytes); last run {entry['last_run']} "
                f"({_OUTCOMES.get(entry['last_outcome'], entry['last_outcome'])})"
            )
            progress = entry["server_progress"]
            if progress:
                click.echo(
                    f"  server: {progress.get('processed', 0)} of {progress.get('uploaded', 0)} "
                    f"processed, {progress.get('processing', 0)} processing, "
                    f"{progress.get('failed', 0)} failed"
                    + (f", {progress['faces']} faces" if "faces" in progress else "")
                )
        return EXIT_OK

    _handle(as_json, run)


_OUTCOMES = {
    "done": "done",
    "failed": "some files failed",
    "network": "the network gave up",
    "interrupted": "interrupted",
    "running": "still running, or stopped abruptly",
}


def _server_progress(client: Api, gallery_id: str, rows: list) -> dict | None:
    batch_ids = sorted({r.batch_id for r in rows if r.batch_id})
    follower = ProgressFollower(
        api=client,
        gallery_id=gallery_id,
        batch_ids=batch_ids,
        on_counts=lambda counts: None,
        stop=threading.Event(),
    )
    try:
        return follower.poll_once()
    except (UploaderError, AuthError):
        return None


# --- watch -------------------------------------------------------------------------------------
@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@_with_push_options
@click.option(
    "--settle",
    default=2.0,
    show_default=True,
    help="Seconds a new file's size and mtime must stay the same before upload.",
)
def watch(
    folder: Path,
    gallery: str | None,
    new_gallery: str | None,
    album: str | None,
    concurrency: int,
    part_concurrency: int,
    as_json: bool,
    settle: float,
) -> None:
    """Tethered shooting: upload FOLDER, then every photo that appears, until Ctrl-C."""
    from picpick_upload.watching import watch_folder

    def run() -> int:
        pusher = _Push(
            folder=folder,
            gallery=gallery,
            new_gallery=new_gallery,
            album=album,
            concurrency=concurrency,
            part_concurrency=part_concurrency,
            as_json=as_json,
        )
        try:
            with _signals(pusher.stop):
                return watch_folder(
                    pusher, settle=settle, result_data=_result_data, exit_code=_exit_code
                )
        finally:
            pusher.close()

    _handle(as_json, run)
