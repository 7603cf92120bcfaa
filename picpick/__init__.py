import os

# One BLAS thread per process: processes (gunicorn and Celery workers, one per core) are our
# unit of parallelism, and a BLAS pool per process on top of them only oversubscribes the
# cores. Set before numpy is first imported; an explicit value in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from picpick.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
