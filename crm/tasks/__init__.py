"""The CRM's Celery tasks (thin: they take ids and call one service), one module per
sub-domain; imported here so that autodiscovery (which imports ``crm.tasks``) registers all."""

from crm.tasks import contacts, work  # noqa: F401
