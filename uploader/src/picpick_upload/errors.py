"""What can go wrong, by what the user should do about it (each maps to an exit code)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FILES_FAILED = 1
EXIT_USAGE = 2  # usage, authentication, not found
EXIT_NETWORK = 3
EXIT_INTERRUPTED = 130


class UploaderError(Exception):
    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(UploaderError):
    """Bad arguments, a gallery or album that is not there, a refused request."""


class AuthError(UploaderError):
    """Not logged in, or the session can no longer be refreshed."""


class NetworkGaveUp(UploaderError):
    """The service or storage stayed unreachable (or kept failing) through every retry."""

    exit_code = EXIT_NETWORK


class Interrupted(UploaderError):
    """Ctrl-C (or SIGTERM): stop cleanly."""

    exit_code = EXIT_INTERRUPTED


class ApiError(UploaderError):
    """The API answered a 4xx with its machine-readable code."""

    def __init__(self, message: str, *, code: str, status: int, body: dict | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.body = body or {}


class TransientHttpError(Exception):
    """A 5xx or 429: worth retrying (after ``retry_after`` seconds when the server said)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after
