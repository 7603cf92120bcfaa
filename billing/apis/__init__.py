"""Billing's API views, one module per sub-domain (``ledger``, ...), with what they share:
money fields (``fields``) and idempotency keys (``common``)."""
