"""The ledger's tables: written once, balanced in the database itself, read-only in the admin."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.db import IntegrityError, transaction
from django.test import Client, RequestFactory
from django.utils import timezone

from billing.models import LedgerAccount, LedgerCheckRun, LedgerEntry, LedgerTransaction
from picpick.core.models import AppendOnlyError
from picpick.testing.factories import (
    LedgerAccountFactory,
    LedgerCheckRunFactory,
    LedgerEntryFactory,
    LedgerTransactionFactory,
    StudioFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_an_existing_transaction_cannot_be_saved_or_deleted():
    txn = LedgerTransactionFactory()
    txn.memo = "rewritten"
    with pytest.raises(AppendOnlyError):
        txn.save()
    with pytest.raises(AppendOnlyError):
        txn.delete()
    assert LedgerTransaction.objects.get(id=txn.id).memo == ""


def test_an_existing_entry_cannot_be_saved_or_deleted():
    entry = LedgerEntryFactory()
    entry.amount = 1
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert LedgerEntry.objects.get(id=entry.id).amount == 1000


@pytest.mark.parametrize("model", [LedgerTransaction, LedgerEntry])
def test_queryset_updates_and_deletes_are_refused(model):
    LedgerEntryFactory()
    rows = model.objects.all()
    with pytest.raises(AppendOnlyError):
        rows.update(currency="USD")
    with pytest.raises(AppendOnlyError):
        rows.delete()
    with pytest.raises(AppendOnlyError):
        model.objects.filter(currency="EUR").update(currency="USD")
    row = rows.first()
    row.currency = "USD"
    # bulk_update runs in its own atomic block without a savepoint: give it one.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        model.objects.bulk_update([row], ["currency"])
    assert set(model.objects.values_list("currency", flat=True)) == {"EUR"}
    assert not hasattr(model.objects, "delete")  # not copied onto the manager either


def _raw_transaction(studio, **fields) -> LedgerTransaction:
    values = {
        "studio": studio,
        "kind": LedgerTransaction.Kind.ADJUSTMENT,
        "currency": "EUR",
        "amount": 500,
        "debits": 500,
        "credits": 500,
        "idempotency_key": f"raw:{fields}",
        "posted_at": timezone.now(),
        **fields,
    }
    return LedgerTransaction.objects.create(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {"debits": 500, "credits": 400, "amount": 500},
        {"debits": 400, "credits": 500, "amount": 400},
        {"debits": 500, "credits": 500, "amount": 400},
        {"debits": 0, "credits": 0, "amount": 0},
        {"debits": -5, "credits": -5, "amount": -5},
    ],
    ids=["debits>credits", "credits>debits", "amount!=debits", "zero", "negative"],
)
def test_the_database_refuses_an_unbalanced_transaction_row(fields):
    """The CHECK holds on SQLite and MariaDB alike (the suite runs on both)."""
    studio = StudioFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_transaction(studio, **fields)
    assert not LedgerTransaction.objects.filter(studio=studio).exists()


def test_the_database_refuses_a_zero_entry():
    txn = LedgerTransactionFactory()
    account = LedgerAccountFactory(studio=txn.studio)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            studio=txn.studio, transaction=txn, account=account, amount=0, currency="EUR"
        )


def test_the_database_refuses_a_wallet_below_zero():
    account = LedgerAccountFactory(kind="wallet", may_go_negative=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(id=account.id).update(balance=-1)
    LedgerAccount.objects.filter(id=account.id).update(balance=5)  # not negative: allowed


def test_one_idempotency_key_per_studio_and_one_reversal_per_transaction():
    studio, other = StudioFactory(), StudioFactory()
    _raw_transaction(studio, idempotency_key="k")
    _raw_transaction(other, idempotency_key="k")  # another studio's keys are its own
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_transaction(studio, idempotency_key="k")
    original = _raw_transaction(studio, idempotency_key="original")
    _raw_transaction(studio, idempotency_key="r1", reverses=original)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_transaction(studio, idempotency_key="r2", reverses=original)


def test_account_keys_are_unique_per_studio():
    studio = StudioFactory()
    LedgerAccountFactory(studio=studio, key="revenue:EUR")
    LedgerAccountFactory(key="revenue:EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccountFactory(studio=studio, key="revenue:EUR")


@pytest.mark.parametrize(
    ("kind", "debit_normal"),
    [
        ("provider_clearing", True),
        ("payouts", True),
        ("receivable", True),
        ("refunds", True),
        ("provider_fees", True),
        ("adjustment", True),
        ("wallet", False),
        ("gift_card", False),
        ("revenue", False),
        ("tax_payable", False),
        ("breakage", False),
    ],
)
def test_each_account_kind_has_its_natural_side(kind, debit_normal):
    assert LedgerAccount(kind=kind).debit_normal is debit_normal
    assert set(LedgerAccount.DEBIT_NORMAL) | set(LedgerAccount.CREDIT_NORMAL) == set(
        LedgerAccount.Kind.values
    )


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        (LedgerAccount, LedgerAccountFactory),
        (LedgerTransaction, LedgerTransactionFactory),
        (LedgerEntry, LedgerEntryFactory),
        (LedgerCheckRun, LedgerCheckRunFactory),
    ],
)
def test_the_admin_may_look_but_not_add_change_or_delete(model, factory):
    row = factory()
    superuser = UserFactory(is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    model_admin = django_admin.site._registry.get(model)
    if model_admin is None:  # entries are shown inline on their transaction
        model_admin = django_admin.site._registry[LedgerTransaction]
        inline = model_admin.get_inline_instances(request, row.transaction)[0]
        assert not inline.has_add_permission(request, row.transaction)
        assert not inline.has_change_permission(request, row.transaction)
        assert not inline.has_delete_permission(request, row.transaction)
        return
    assert model_admin.has_view_permission(request, row)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)


def test_the_admin_pages_render_for_staff():
    entry = LedgerEntryFactory()
    LedgerCheckRunFactory(ok=False, drift_count=3)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        "/admin/billing/ledgeraccount/",
        "/admin/billing/ledgertransaction/",
        f"/admin/billing/ledgertransaction/{entry.transaction_id}/change/",
        f"/admin/billing/ledgeraccount/{entry.account_id}/change/",
        "/admin/billing/ledgercheckrun/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/billing/ledgertransaction/{entry.transaction_id}/change/")
    assert str(entry.account) in page.content.decode()
