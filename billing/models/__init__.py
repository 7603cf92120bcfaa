"""The billing app's tables, one module per sub-domain; the public names are re-exported here."""

from billing.models.ledger import LedgerAccount, LedgerCheckRun, LedgerEntry, LedgerTransaction

__all__ = ["LedgerAccount", "LedgerCheckRun", "LedgerEntry", "LedgerTransaction"]
