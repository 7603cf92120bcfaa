"""Billing's writes, one module per sub-domain (``ledger``, ``reconcile``, ...). Import them by
their module: ``from billing.services.ledger import ledger_post``."""
