"""The billing app's tables, one module per sub-domain; the public names are re-exported here."""

from billing.models.gift_cards import GiftCard
from billing.models.invoices import (
    AutopayAttempt,
    CatalogueItem,
    DocumentCounter,
    Instalment,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    Quote,
    QuoteItem,
    TaxRate,
)
from billing.models.ledger import LedgerAccount, LedgerCheckRun, LedgerEntry, LedgerTransaction
from billing.models.payments import (
    ConnectedAccount,
    Dispute,
    Payment,
    ProviderCustomer,
    Refund,
    SavedCard,
    WebhookEvent,
)
from billing.models.settings import BillingSettings
from billing.models.wallets import Wallet, WalletCreditLot, WalletHold

__all__ = [
    "AutopayAttempt",
    "BillingSettings",
    "CatalogueItem",
    "ConnectedAccount",
    "Dispute",
    "DocumentCounter",
    "GiftCard",
    "Instalment",
    "Invoice",
    "InvoiceLine",
    "InvoiceReminder",
    "LedgerAccount",
    "LedgerCheckRun",
    "LedgerEntry",
    "LedgerTransaction",
    "Payment",
    "ProviderCustomer",
    "Quote",
    "QuoteItem",
    "Refund",
    "SavedCard",
    "TaxRate",
    "Wallet",
    "WalletCreditLot",
    "WalletHold",
    "WebhookEvent",
]
