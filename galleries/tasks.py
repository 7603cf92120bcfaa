"""Celery tasks of the galleries app (queue ``media``). Thin: they take ids and call services."""

from __future__ import annotations
