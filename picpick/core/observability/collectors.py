"""Queue depth per Celery queue, read from the broker when Prometheus scrapes.

A custom collector rather than a gauge some process keeps up to date: the depth is the
broker's, and every scrape asks it afresh (four LLENs per queue in one round trip).

Redis (kombu's transport): a queue is a list named after it, plus one list per priority step
(``<queue>\\x06\\x16<priority>``). The folder broker of ``make run``: one file per message,
named ``<...>.<queue>.msg``. Other brokers (tests' ``memory://``): nothing is reported.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

_REDIS_PRIORITY_STEPS = (0, 3, 6, 9)  # kombu's defaults (the settings do not change them)
_REDIS_SEP = "\x06\x16"
_TIMEOUT_SECONDS = 1.0

_redis_clients: dict[str, object] = {}


def _queue_names() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def _redis_depths(url: str, queues: list[str]) -> dict[str, int]:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
        )
        _redis_clients[url] = client
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for priority in _REDIS_PRIORITY_STEPS:
            key = queue if not priority else f"{queue}{_REDIS_SEP}{priority}"
            pipe.llen(f"{prefix}{key}")
    counts = pipe.execute()
    steps = len(_REDIS_PRIORITY_STEPS)
    return {
        queue: sum(counts[index * steps : (index + 1) * steps])
        for index, queue in enumerate(queues)
    }


def _folder_depths(folder: Path, queues: list[str]) -> dict[str, int]:
    depths = dict.fromkeys(queues, 0)
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".msg"):
            queue = name[:-4].rsplit(".", 1)[-1]
            if queue in depths:
                depths[queue] += 1
    return depths


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue; None when the broker cannot be asked (or is unknown)."""
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme
    queues = _queue_names()
    if scheme in ("redis", "rediss"):
        return _redis_depths(url, queues)
    if scheme == "filesystem":
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
        return _folder_depths(Path(folder), queues) if folder else None
    return None


class QueueDepthCollector:
    def describe(self):
        return []  # read at scrape time; nothing to claim at registration

    def collect(self):
        try:
            depths = queue_depths()
        except Exception as exc:
            # A scrape still answers (request and task metrics matter most when the broker is
            # in trouble); the missing series and this line say why.
            logger.warning("queue depth unavailable: %r", exc)
            depths = None
        if depths is None:
            return
        family = GaugeMetricFamily(
            "picpick_celery_queue_length",
            "Messages waiting in each Celery queue (read from the broker at scrape time).",
            labels=["queue"],
        )
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        yield family
