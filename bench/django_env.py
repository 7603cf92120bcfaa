"""Django for a benchmark: settings, a fresh migrated database, and its removal afterwards."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()


@contextmanager
def fresh_database() -> Iterator[None]:
    """A migrated, empty database for one benchmark, destroyed when the block ends."""
    setup()
    from django.db import connection

    if connection.vendor == "sqlite":
        # One process runs every benchmark: the folder removed after the last one is made anew.
        Path(connection.settings_dict["TEST"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
        if connection.vendor == "sqlite":
            shutil.rmtree(Path(name).parent, ignore_errors=True)


class QueryCounter:
    """Counts SQL statements through an execute wrapper: far cheaper than recording them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def settle_database(*, timeout_s: float = 90.0) -> float:
    """Wait until the server has written back what seeding left dirty (MariaDB/MySQL: its
    dirty buffer-pool pages stop falling), so a benchmark measures reads on a settled database
    as users meet it, not beside the flush of 100,000 fresh rows. Seconds waited; nothing to
    wait for on SQLite."""
    import time

    from django.db import connection

    if connection.vendor != "mysql":
        return 0.0
    started = time.perf_counter()
    last = None
    with connection.cursor() as cursor:
        while time.perf_counter() - started < timeout_s:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
            row = cursor.fetchone()
            dirty = int(row[1]) if row else 0
            if last is not None and dirty >= last:
                break
            last = dirty
            time.sleep(2)
    return time.perf_counter() - started
