"""Billing's reads, scoped to the studio, one module per sub-domain (``ledger``, ...). Import
them by their module: ``from billing.selectors.ledger import account_get``."""
