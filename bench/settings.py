"""Settings for benchmarks: the test settings, on a real database that is thrown away after.

``DATABASE_URL`` (MySQL/MariaDB) is honoured; its ``bench_<name>`` twin is created and dropped,
so a benchmark never reads or writes the database named in the URL. Without it, a temporary
SQLite file is used (not ``:memory:``: a file behaves like a deployment does).
"""

import tempfile
from pathlib import Path

from picpick.settings.test import *  # noqa: F403
from picpick.settings.test import DATABASES

_default = DATABASES["default"]
if _default["ENGINE"] == "django.db.backends.sqlite3":
    _file = Path(tempfile.mkdtemp(prefix="picpick-bench-")) / "bench.sqlite3"
    _default["NAME"] = str(_file)
    _default["TEST"] = {"NAME": str(_file)}
else:
    _default["TEST"] = {**_default.get("TEST", {}), "NAME": f"bench_{_default['NAME']}"}

# Benchmarks measure the code, not the logging of every query.
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
