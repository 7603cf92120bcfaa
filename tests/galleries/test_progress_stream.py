"""The gallery event stream over real servers: uvicorn serving ``picpick.asgi`` (the production
path) and the WSGI live server (``make run``), read with httpx streaming, on both transports --
Redis Streams (when REDIS_URL is set) and the database fallback."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
import uvicorn
from django.db import transaction

from galleries.models import Photo
from galleries.services.progress import gallery_progress_changed
from picpick.core.events import bus, sse
from picpick.testing.factories import PhotoFactory
from tests.browser import chromium, needs_chromium, wait_for
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)  # the server reads from its own threads

REDIS_URL = os.environ.get("REDIS_URL", "")


# --- Servers and a reader --------------------------------------------------------------------
@pytest.fixture(scope="module")
def asgi_server() -> Iterator[str]:
    """uvicorn serving picpick.asgi in a thread of this process (so it uses the test database
    and sees the settings and constants a test changes)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        "picpick.asgi:application", lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(params=["redis", "database"])
def transport(request, settings, monkeypatch) -> str:
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("needs REDIS_URL (the Redis Streams transport)")
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0)  # each change publishes at once
    monkeypatch.setattr(sse, "POLL_SECONDS", 0.1)
    return request.param


@pytest.fixture(params=["asgi", "wsgi"])
def server(request, monkeypatch) -> Iterator[str]:
    if request.param == "asgi":
        yield request.getfixturevalue("asgi_server")
        return
    # A WSGI server notices a client that left only when a write fails: keep-alives come often
    # here, and the test waits for its streams to end while the database is still open to them.
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.4)
    yield request.getfixturevalue("live_server").url
    time.sleep(1.5)


class Stream:
    """One open event stream: ``next()`` is its next event or comment, parsed."""

    def __init__(self, url: str, *, headers: dict | None = None, params: dict | None = None):
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=20))
        self._context = self.client.stream("GET", url, headers=headers or {}, params=params)
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines() if self.response.status_code == 200 else None

    def next(self) -> dict:
        event: dict = {}
        for line in self._lines:
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            if line == "":
                if event:
                    if "data" in event:
                        event["data"] = json.loads(event["data"])
                    return event
                continue
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def next_progress(self) -> dict:
        """The next progress event, skipping keep-alives."""
        while "comment" in (event := self.next()):
            pass
        assert event["event"] == "progress", event
        return event

    def close(self) -> None:
        self._context.__exit__(None, None, None)
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def events_url(base: str, gallery) -> str:
    return f"{base}/api/v1/galleries/{gallery.id}/events/"


def bearer(user, studio) -> dict:
    return {"Authorization": client_for(user, studio)._credentials["HTTP_AUTHORIZATION"]}


def process(photo: Photo, state=Photo.State.READY) -> None:
    """What a worker does when a photo is done: the row changes, then the publish point runs
    (after the commit)."""
    with transaction.atomic():
        Photo.objects.filter(id=photo.id).update(state=state)
        gallery_progress_changed(gallery_id=photo.gallery_id)


@pytest.fixture
def gallery(gallery_a):
    for _ in range(3):
        PhotoFactory(gallery=gallery_a, state=Photo.State.UPLOADED, size=1000)
    return gallery_a


# --- The flow --------------------------------------------------------------------------------
def test_snapshot_then_live_counts_then_resume_without_loss_or_duplicate(
    server, transport, gallery, alice, studio_a
):
    photos = list(Photo.objects.filter(gallery=gallery).order_by("id"))
    headers = bearer(alice, studio_a)
    with Stream(events_url(server, gallery), headers=headers) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        assert stream.next() == {"retry": "3000"}
        first = stream.next_progress()
        assert first["data"]["gallery_id"] == str(gallery.id)
        assert (first["data"]["uploaded"], first["data"]["processed"]) == (3, 0)

        process(photos[0])
        second = stream.next_progress()
        assert (second["data"]["processing"], second["data"]["processed"]) == (2, 1)
        assert second["id"] != first["id"]

    # Disconnected while two more photos finish: the reconnect gets the newest counts once.
    process(photos[1])
    process(photos[2], Photo.State.FAILED)
    with Stream(
        events_url(server, gallery), headers={**headers, "Last-Event-ID": second["id"]}
    ) as stream:
        assert stream.next() == {"retry": "3000"}
        missed = stream.next_progress()
        assert (missed["data"]["processed"], missed["data"]["failed"]) == (2, 1)
        assert missed["data"]["processing"] == 0

    # Resuming with everything already seen: nothing is sent again, only keep-alives, until
    # the next change.
    with Stream(
        events_url(server, gallery), headers={**headers, "Last-Event-ID": missed["id"]}
    ) as stream:
        assert stream.next() == {"retry": "3000"}
        PhotoFactory(gallery=gallery, state=Photo.State.PENDING)
        gallery_progress_changed(gallery_id=gallery.id)
        event = stream.next_progress()
        assert event["data"]["photos"] == 4  # the new photo, not the old counts again
        assert event["id"] != missed["id"]


def test_an_unknown_or_trimmed_last_event_id_gets_a_fresh_snapshot(
    server, transport, gallery, alice, studio_a
):
    headers = bearer(alice, studio_a)
    for stale in ("1-0", "not-an-id", "99999999999999-0"):
        with Stream(
            events_url(server, gallery), headers={**headers, "Last-Event-ID": stale}
        ) as stream:
            assert stream.next() == {"retry": "3000"}
            assert stream.next_progress()["data"]["uploaded"] == 3


def test_a_quiet_stream_sends_keep_alives(server, transport, gallery, alice, studio_a, monkeypatch):
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.3)
    with Stream(events_url(server, gallery), headers=bearer(alice, studio_a)) as stream:
        stream.next()  # retry
        stream.next_progress()
        assert stream.next() == {"comment": "keep-alive"}
        assert stream.next() == {"comment": "keep-alive"}


def test_the_stream_ends_after_its_lifetime(
    server, transport, gallery, alice, studio_a, monkeypatch
):
    monkeypatch.setattr(sse, "MAX_LIFETIME_SECONDS", 0.5)
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.2)
    with Stream(events_url(server, gallery), headers=bearer(alice, studio_a)) as stream:
        stream.next()
        stream.next_progress()
        with pytest.raises(EOFError):
            while True:
                stream.next()


def test_a_change_the_publisher_lost_reaches_listeners_at_the_next_heartbeat(
    asgi_server, gallery, alice, studio_a, settings, monkeypatch
):
    """A worker killed before its trailing publish, or photos deleted: the Redis listener
    compares the database with what it sent when idle, and sends the difference."""
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL (the Redis Streams transport)")
    settings.REDIS_URL = REDIS_URL
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.3)
    with Stream(events_url(asgi_server, gallery), headers=bearer(alice, studio_a)) as stream:
        stream.next()
        stream.next_progress()
        Photo.objects.filter(gallery=gallery).update(state=Photo.State.READY)  # no publish
        assert stream.next_progress()["data"]["processed"] == 3


def test_a_worker_processing_a_photo_publishes_through_redis(
    asgi_server, gallery, alice, studio_a, settings, monkeypatch
):
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL (the Redis Streams transport)")
    settings.REDIS_URL = REDIS_URL
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0)
    photo = Photo.objects.filter(gallery=gallery).first()
    with Stream(events_url(asgi_server, gallery), headers=bearer(alice, studio_a)) as stream:
        stream.next()
        stream.next_progress()
        process(photo)
        assert stream.next_progress()["data"]["processed"] == 1
        client = redis.Redis.from_url(REDIS_URL)
        key = bus.stream_key(f"gallery:{gallery.id}")
        assert json.loads(client.xrevrange(key, count=1)[0][1][b"data"])["processed"] == 1


def test_a_client_that_goes_away_leaves_no_redis_connection_behind(
    asgi_server, gallery, alice, studio_a, settings
):
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL (the Redis Streams transport)")
    settings.REDIS_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    name = f"{sse.CLIENT_NAME}:gallery:{gallery.id}"

    def open_streams() -> int:
        return sum(1 for c in client.client_list() if c.get("name") == name)

    with Stream(events_url(asgi_server, gallery), headers=bearer(alice, studio_a)) as stream:
        stream.next()
        stream.next_progress()
        assert open_streams() == 1
    # Django cancels the response when the client goes away (no heartbeat needed to notice).
    deadline = time.monotonic() + 10
    while open_streams() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_streams() == 0


def test_a_stream_carries_on_from_the_database_while_redis_is_down(
    server, gallery, alice, studio_a, settings, monkeypatch
):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there: a broker restarting
    monkeypatch.setattr(sse, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(bus, "REDIS_TIMEOUT_SECONDS", 0.5)
    photo = Photo.objects.filter(gallery=gallery).first()
    with Stream(events_url(server, gallery), headers=bearer(alice, studio_a)) as stream:
        assert stream.next() == {"retry": "3000"}
        assert stream.next_progress()["data"]["processed"] == 0
        process(photo)  # its publish fails (logged); the database shows it
        assert stream.next_progress()["data"]["processed"] == 1


# --- Who may listen --------------------------------------------------------------------------
def test_authentication_and_studio_scoping_over_the_real_server(
    asgi_server, transport, gallery, alice, studio_a, bob, studio_b
):
    url = events_url(asgi_server, gallery)
    with Stream(url) as stream:
        assert stream.response.status_code == 401
    with Stream(url, headers=bearer(bob, studio_b)) as stream:
        assert stream.response.status_code == 404
        stream.response.read()
        assert stream.response.json()["error"]["code"] == "not_found"
    with Stream(url, params={"ticket": "forged:abc:def"}) as stream:
        assert stream.response.status_code == 401

    ticket = httpx.post(f"{url}ticket/", headers=bearer(alice, studio_a)).json()
    with Stream(f"{asgi_server}{ticket['url']}") as stream:  # no header: the ticket alone
        assert stream.response.status_code == 200
        stream.next()
        assert stream.next_progress()["data"]["uploaded"] == 3


# --- A browser -------------------------------------------------------------------------------
@needs_chromium
def test_a_browsers_eventsource_with_a_ticket_gets_events_and_resumes_by_itself(
    asgi_server, gallery, alice, studio_a, settings, monkeypatch
):
    """The dashboard's way in: a ticket, an EventSource, and the browser's own reconnect (with
    Last-Event-ID) when the server ends the response -- nothing lost, nothing twice."""
    settings.REDIS_URL = REDIS_URL  # either transport
    monkeypatch.setattr(bus, "COALESCE_SECONDS", 0)
    monkeypatch.setattr(sse, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(sse, "RETRY_MS", 200)
    monkeypatch.setattr(sse, "MAX_LIFETIME_SECONDS", 1.5)  # the server ends each response soon
    photos = list(Photo.objects.filter(gallery=gallery).order_by("id"))
    url = events_url(asgi_server, gallery)
    ticket = httpx.post(f"{url}ticket/", headers=bearer(alice, studio_a)).json()
    driver = chromium(hosts=["127.0.0.1"])
    try:
        driver.get(f"{asgi_server}/healthz")  # any page of the same origin
        driver.execute_script(
            """
            window.got = [];
            window.opened = 0;
            const stream = new EventSource(arguments[0]);
            stream.onopen = () => { window.opened += 1; };
            stream.addEventListener("progress", (e) => {
              window.got.push({id: e.lastEventId, data: JSON.parse(e.data)});
            });
            """,
            ticket["url"],
        )
        got = lambda: driver.execute_script("return window.got")  # noqa: E731
        wait_for(lambda: len(got()) == 1, message="the first snapshot")
        assert got()[0]["data"]["processed"] == 0
        process(photos[0])
        wait_for(lambda: got()[-1]["data"]["processed"] == 1, message="the processed photo")

        # The server ends the response; the browser reconnects with its last id by itself.
        monkeypatch.setattr(sse, "MAX_LIFETIME_SECONDS", 0.5)
        process(photos[1])
        wait_for(lambda: got()[-1]["data"]["processed"] == 2, message="the second photo")
        wait_for(lambda: driver.execute_script("return window.opened") >= 3, message="reconnects")
        process(photos[2])
        wait_for(lambda: got()[-1]["data"]["processed"] == 3, message="after reconnecting")
        ids = [event["id"] for event in got()]
        assert len(ids) == len(set(ids)), "an event was delivered twice"
        counts = [event["data"]["processed"] for event in got()]
        assert counts == sorted(counts)
    finally:
        driver.quit()
