"""Reads of wallets, their lots, holds and statements; every one scoped to a studio."""

from __future__ import annotations

import uuid

from django.db.models import F, QuerySet

from accounts.models import Studio
from billing.models import Wallet, WalletCreditLot, WalletHold
from billing.selectors.ledger import account_statement_page
from picpick.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate
from picpick.core.selectors import studio_object_or_404

MAX_LOTS_SHOWN = 100


def wallet_list(
    *, studio: Studio, contact_id: uuid.UUID | None = None, currency: str | None = None
) -> QuerySet[Wallet]:
    wallets = Wallet.objects.filter(studio=studio).select_related("account", "contact")
    if contact_id is not None:
        wallets = wallets.filter(contact_id=contact_id)
    if currency:
        wallets = wallets.filter(currency=currency)
    return wallets


def wallet_page(
    *,
    studio: Studio,
    contact_id: uuid.UUID | None = None,
    currency: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The studio's wallets, newest first (ids are UUIDv7: id order is creation order)."""
    wallets = wallet_list(studio=studio, contact_id=contact_id, currency=currency)
    return paginate(wallets, ordering=["-id"], cursor=cursor, page_size=page_size)


def wallet_get(*, studio: Studio, wallet_id: uuid.UUID | str) -> Wallet:
    """This studio's wallet (its account and contact read along), or a 404."""
    return studio_object_or_404(
        Wallet.objects.select_related("account", "contact"),
        studio=studio,
        object_id=wallet_id,
        message="Wallet not found.",
    )


def wallet_open_lots(*, wallet: Wallet) -> list[WalletCreditLot]:
    """The wallet's credit still to spend, the first to expire first (never-expiring last)."""
    lots = list(
        WalletCreditLot.objects.filter(wallet=wallet, is_open=True).order_by(
            F("expires_at").asc(nulls_last=True), "id"
        )[:MAX_LOTS_SHOWN]
    )
    for lot in lots:
        lot.wallet = wallet
    return lots


def wallet_hold_page(
    *,
    wallet: Wallet,
    state: str | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """A wallet's holds, newest first."""
    holds = WalletHold.objects.filter(wallet=wallet)
    if state:
        holds = holds.filter(state=state)
    page = paginate(holds, ordering=["-id"], cursor=cursor, page_size=page_size)
    for hold in page.items:
        hold.wallet = wallet
    return page


def wallet_hold_get(*, studio: Studio, hold_id: uuid.UUID | str) -> WalletHold:
    hold = studio_object_or_404(
        WalletHold.objects.select_related("wallet__account"),
        studio=studio,
        object_id=hold_id,
        message="Hold not found.",
    )
    hold.wallet.studio = studio
    return hold


def wallet_statement(
    *, wallet: Wallet, cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> Page:
    """The wallet's account's entries, newest first (the ledger's statement)."""
    return account_statement_page(account=wallet.account, cursor=cursor, page_size=page_size)


def contact_wallets(*, studio_id: uuid.UUID, contact_id: uuid.UUID) -> list[Wallet]:
    """A contact's wallets, for their own wallet page (reached by a signed link)."""
    return list(
        Wallet.objects.filter(studio_id=studio_id, contact_id=contact_id)
        .select_related("account")
        .order_by("currency")
    )
