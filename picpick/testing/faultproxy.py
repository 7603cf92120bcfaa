"""A fault-injecting HTTP proxy on loopback, for tests and benchmarks of real clients.

It sits in front of one upstream (the API's live server, or the S3 endpoint) and forwards
HTTP/1.1 requests one by one, so it can count them and, per request, decide to:

- forward it (the default), after an optional delay;
- answer it itself (a 429 with Retry-After, a 503) and close the connection;
- drop the connection after N bytes of the request body went upstream (a dropped network
  in the middle of a PUT);
- forward it whole and drop the connection before the answer (the request took effect, the
  client never heard: the case idempotency exists for).

The decision is a function of the request head and its sequence number, given by the test.
Bodies are streamed both ways in 64 KiB pieces (nothing is held whole), so the proxy also
carries server-sent event streams. Signed URLs stay valid through it as long as the URL was
signed for the proxy's address (the Host header is passed through untouched).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PIECE = 64 * 1024


@dataclass(frozen=True)
class RequestHead:
    seq: int  # 0-based, in the order requests arrived
    method: str
    target: str  # path and query
    headers: dict[str, str]  # lower-case names

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    @property
    def presigned(self) -> bool:
        return "X-Amz-Signature=" in self.query


@dataclass(frozen=True)
class Forward:
    delay: float = 0.0


@dataclass(frozen=True)
class Respond:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DropAfter:
    """Close both connections after this many bytes of the request body went upstream."""

    body_bytes: int = 0


@dataclass(frozen=True)
class DropResponse:
    """Forward the whole request, then close the client's connection without an answer."""


Action = Forward | Respond | DropAfter | DropResponse


@dataclass
class Record:
    head: RequestHead
    action: str
    status: int | None = None  # the upstream's answer, None when none reached the client
    body_bytes: int = 0  # request body bytes that went upstream


_REASONS = {
    200: "OK",
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Closed(Exception):
    pass


class FaultProxy:
    def __init__(
        self, upstream: str, decide: Callable[[RequestHead], Action] | None = None
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.decide = decide or (lambda head: Forward())
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fault-proxy")
        self._conns: set[socket.socket] = set()

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    # -- serving --
    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _handle(self, client: socket.socket) -> None:
        self._track(client, True)
        upstream: socket.socket | None = None
        buffer = b""
        try:
            while not self._stopped.is_set():
                raw_head, buffer = _read_head(client, buffer)
                if raw_head is None:
                    return
                with self._lock:
                    seq = self._seq
                    self._seq += 1
                head = _parse_request(seq, raw_head)
                action = self.decide(head)
                record = Record(head=head, action=type(action).__name__)
                with self._lock:
                    self.records.append(record)
                length = int(head.headers.get("content-length") or 0)
                if isinstance(action, Respond):
                    buffer = _discard(client, buffer, length)
                    _respond(client, action)
                    return
                if isinstance(action, Forward) and action.delay:
                    time.sleep(action.delay)
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=120)
                    self._track(upstream, True)
                upstream.sendall(raw_head)
                limit = action.body_bytes if isinstance(action, DropAfter) else None
                buffer, sent = _relay_body(client, upstream, buffer, length, limit)
                record.body_bytes = sent
                if isinstance(action, DropAfter):
                    return
                status, keep_alive = _relay_response(
                    upstream,
                    client if not isinstance(action, DropResponse) else None,
                    head.method,
                )
                record.status = None if isinstance(action, DropResponse) else status
                if isinstance(action, DropResponse) or not keep_alive:
                    return
        except (_Closed, OSError):
            return
        finally:
            for conn in (client, upstream):
                if conn is not None:
                    self._track(conn, False)
                    with contextlib.suppress(OSError):
                        conn.close()


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(PIECE)
    if not data:
        raise _Closed()
    return data


def _read_head(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        try:
            data = sock.recv(PIECE)
        except OSError:
            return None, b""
        if not data:
            return None, b""
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    return buffer[:end], buffer[end:]


def _headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def _parse_request(seq: int, raw: bytes) -> RequestHead:
    lines = raw.split(b"\r\n")
    method, target, _ = lines[0].decode("latin-1").split(" ", 2)
    return RequestHead(seq=seq, method=method, target=target, headers=_headers(lines[1:]))


def _discard(sock: socket.socket, buffer: bytes, length: int) -> bytes:
    left = length - len(buffer)
    buffer = buffer[length:] if left <= 0 else b""
    while left > 0:
        left -= len(_recv(sock))
    return buffer


def _relay_body(
    src: socket.socket, dst: socket.socket, buffer: bytes, length: int, limit: int | None
) -> tuple[bytes, int]:
    """Forward ``length`` body bytes (at most ``limit``); returns (leftover, bytes sent)."""
    sent = 0
    budget = length if limit is None else min(length, limit)
    while sent < length:
        if buffer:
            piece, buffer = buffer[: length - sent], buffer[length - sent :]
        else:
            piece = _recv(src)
            if len(piece) > length - sent:
                piece, buffer = piece[: length - sent], piece[length - sent :]
        if sent + len(piece) > budget:
            dst.sendall(piece[: budget - sent])
            return buffer, budget
        dst.sendall(piece)
        sent += len(piece)
    return buffer, sent


def _relay_response(
    upstream: socket.socket, client: socket.socket | None, method: str
) -> tuple[int, bool]:
    """Relay one response (or swallow it when ``client`` is None); (status, keep-alive)."""
    raw, rest = _read_head(upstream, b"")
    if raw is None:
        raise _Closed()
    lines = raw.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = _headers(lines[1:])
    if client is not None:
        client.sendall(raw)

    def out(data: bytes) -> None:
        if client is not None and data:
            client.sendall(data)

    keep_alive = headers.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, keep_alive
    if "content-length" in headers:
        left = int(headers["content-length"])
        piece, rest = rest[:left], rest[left:]
        out(piece)
        left -= len(piece)
        while left > 0:
            data = _recv(upstream)
            out(data[:left])
            left -= len(data)
        return status, keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        # Relay raw until the last chunk: scan the chunk sizes as they pass.
        buffer = rest
        while True:
            while b"\r\n" not in buffer:
                buffer += _recv(upstream)
            line, _, buffer = buffer.partition(b"\r\n")
            out(line + b"\r\n")
            size = int(line.split(b";")[0], 16)
            need = size + 2
            while len(buffer) < need:
                buffer += _recv(upstream)
            out(buffer[:need])
            buffer = buffer[need:]
            if size == 0:
                return status, keep_alive
    # Delimited by the end of the connection (a stream of events, an old server). A client
    # that hangs up ends it too, so the upstream stream is closed at once, not at its next
    # write.
    out(rest)
    watched = [upstream] if client is None else [upstream, client]
    while True:
        readable, _, _ = select.select(watched, [], [], 1.0)
        if client is not None and client in readable:
            try:
                gone = client.recv(PIECE) == b""
            except OSError:
                gone = True
            if gone:
                return status, False
        if upstream not in readable:
            continue
        try:
            data = upstream.recv(PIECE)
        except OSError:
            data = b""
        if not data:
            return status, False
        out(data)


def _respond(sock: socket.socket, action: Respond) -> None:
    reason = _REASONS.get(action.status, "Error")
    headers = {"Content-Type": "application/json", **action.headers}
    headers["Content-Length"] = str(len(action.body))
    headers["Connection"] = "close"
    head = f"HTTP/1.1 {action.status} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    sock.sendall(head.encode("latin-1") + b"\r\n" + action.body)
