"""gunicorn's settings for web (docker-compose.yml: --config=docker/gunicorn.conf.py).

Metrics of several workers add up through prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, a tmpfs per container): the master empties the folder before it
starts any worker, and marks each worker that exits as dead.

No access log: the app writes one line per request itself (picpick.core.observability), with
the route, the studio, the user, the client's address and the request id.
"""

import sys
from pathlib import Path

# gunicorn reads this file before it changes to its --chdir and puts that on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from picpick.core.observability.multiproc import process_exited, wipe_multiprocess_dir

accesslog = None


def on_starting(server):
    wipe_multiprocess_dir()


def child_exit(server, worker):
    process_exited(worker.pid)
