"""Where the uploader keeps its things: the session (config dir) and the state db (data dir).

The session file holds the refresh token: it is created with 0600 permissions from the start
(never written world-readable and fixed afterwards) and replaced atomically, so a kill in the
middle of a save leaves the previous session intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

try:  # POSIX; on Windows the session is refreshed without a cross-process lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

APP_NAME = "picpick-upload"
CONFIG_DIR_ENV = "PICPICK_UPLOAD_CONFIG_DIR"
DATA_DIR_ENV = "PICPICK_UPLOAD_DATA_DIR"
SESSION_FILE = "session.json"


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@dataclass
class Session:
    """A logged-in account: where, who, which studio, and the token pair."""

    api: str
    email: str
    studio_id: str | None
    studio_name: str
    studio_slug: str
    access: str
    refresh: str


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, the file never readable by others."""
    directory = _private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=directory)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def session_path() -> Path:
    return config_dir() / SESSION_FILE


def session_load() -> Session | None:
    try:
        raw = json.loads(session_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    try:
        return Session(**{field: raw[field] for field in Session.__dataclass_fields__})
    except (KeyError, TypeError):
        return None


def session_save(session: Session) -> None:
    write_private(session_path(), json.dumps(asdict(session), indent=2))


def session_delete() -> bool:
    try:
        session_path().unlink()
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def session_lock() -> Iterator[None]:
    """Held while refreshing: refresh tokens are single-use, so two processes (a push and a
    status) must not both spend the same one."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    directory = _private_dir(config_dir())
    fd = os.open(directory / ".session.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
