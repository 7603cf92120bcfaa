"""Billing's Celery tasks (thin: they take ids and call one service), one module per
sub-domain; imported here so that autodiscovery (which imports ``billing.tasks``) registers
all of them. Routed to the ``billing`` queue (``CELERY_TASK_ROUTES``)."""

from billing.tasks import ledger  # noqa: F401
