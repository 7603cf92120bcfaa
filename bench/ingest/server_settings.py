"""Settings of the ingest benchmark's server processes (gunicorn, uvicorn, workers, beat).

Production's settings when the database is MySQL/MariaDB (plain HTTP on loopback allowed, as
behind a TLS proxy), else the local ones with DEBUG off; everything else from the environment
the benchmark gives every process, as a deployment does. Three differences, all said in the
README's benchmark section:

- the workers load ``bench.ingest.trace`` (one line per committed processing run / face step);
- the sweeps that recover a killed worker's photo run every minute instead of every 5 and 10
  (a photo is still only taken back after production's time limit plus margin);
- the anonymous rate limit is set by the benchmark (``THROTTLE_ANON``): its guests all come from
  one loopback address.
"""

import os

if os.environ.get("DATABASE_URL", "").startswith("mysql"):
    from picpick.settings.production import *  # noqa: F403
else:
    from picpick.settings.local import *  # noqa: F403

from datetime import timedelta

from picpick.settings.base import CELERY_BEAT_SCHEDULE, CELERY_IMPORTS

DEBUG = False
CELERY_IMPORTS = [*CELERY_IMPORTS, "bench.ingest.trace"]
CELERY_BEAT_SCHEDULE = {
    name: {**entry, "schedule": timedelta(minutes=1)}
    if name in ("photos-sweep-stuck", "faces-step-sweep")
    else entry
    for name, entry in CELERY_BEAT_SCHEDULE.items()
}
