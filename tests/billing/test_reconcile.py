"""The ledger check: sound books pass; a tampered balance or transaction is found, recorded,
logged, and fails the command."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.management.commands.ledger_check import Command
from billing.models import LedgerAccount, LedgerCheckRun, LedgerTransaction
from billing.services import reconcile
from billing.services.ledger import account_for, credit, debit, ledger_post, ledger_reverse
from billing.services.reconcile import ledger_check
from billing.tasks.ledger import ledger_check_nightly
from picpick.celery import app
from picpick.testing.factories import ContactFactory, StudioFactory

pytestmark = pytest.mark.django_db


def _books(studio, posts: int = 3) -> dict:
    contact = ContactFactory(studio=studio)
    books = {
        "clearing": account_for(studio=studio, kind="provider_clearing", currency="EUR"),
        "revenue": account_for(studio=studio, kind="revenue", currency="EUR"),
        "wallet": account_for(studio=studio, kind="wallet", currency="EUR", contact=contact),
        "fees": account_for(studio=studio, kind="provider_fees", currency="EUR"),
    }
    for n in range(posts):
        ledger_post(
            studio=studio,
            kind="payment_received",
            idempotency_key=f"p{n}",
            legs=[
                debit(books["clearing"], 970),
                debit(books["fees"], 30),
                credit(books["revenue"], 1000),
            ],
        )
    topup = ledger_post(
        studio=studio,
        kind="wallet_topup",
        idempotency_key="topup",
        legs=[debit(books["clearing"], 500), credit(books["wallet"], 500)],
    )
    ledger_reverse(transaction=topup.transaction, idempotency_key="rev")
    return books


def test_sound_books_pass():
    studio = StudioFactory()
    _books(studio)
    run = ledger_check()
    assert run.ok and run.drift_count == 0 and run.drifts == []
    assert (run.accounts_checked, run.transactions_checked, run.entries_checked) == (4, 5, 13)
    assert run.finished_at >= run.started_at
    assert LedgerCheckRun.objects.get(id=run.id).ok


def test_an_empty_ledger_passes():
    run = ledger_check()
    assert run.ok and run.accounts_checked == run.transactions_checked == 0


def test_a_tampered_balance_is_a_drift(caplog):
    studio = StudioFactory()
    books = _books(studio)
    LedgerAccount.objects.filter(id=books["revenue"].id).update(balance=2999)
    with caplog.at_level(logging.ERROR, logger="billing.services.reconcile"):
        run = ledger_check()
    assert not run.ok and run.drift_count == 1
    assert run.drifts == [
        {
            "type": "balance",
            "account_id": str(books["revenue"].id),
            "stored": 2999,
            "computed": 3000,
        }
    ]
    assert LedgerCheckRun.objects.get(id=run.id).drift_count == 1
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(books["revenue"].id) in record.getMessage()
    assert "2999" in record.getMessage()


def test_a_tampered_transaction_is_a_drift():
    studio = StudioFactory()
    _books(studio)
    txn = LedgerTransaction.objects.get(studio=studio, idempotency_key="p1")
    # Past the service and the append-only manager (the base manager is Django's plain one):
    # the stored sums no longer match the entries (still consistent with each other, so the
    # row passes the database's CHECK).
    LedgerTransaction._base_manager.filter(id=txn.id).update(amount=990, debits=990, credits=990)
    run = ledger_check()
    assert not run.ok
    assert run.drifts == [
        {
            "type": "transaction",
            "transaction_id": str(txn.id),
            "stored": {"amount": 990, "debits": 990, "credits": 990, "currency": "EUR"},
            "computed": {
                "sum": 0,
                "debits": 1000,
                "credits": 1000,
                "entries": 3,
                "currencies": ["EUR"],
            },
        }
    ]


def test_a_tampered_entry_is_a_drift_of_its_transaction_and_its_account():
    studio = StudioFactory()
    books = _books(studio)
    entry = books["fees"].entries.first()
    type(entry)._base_manager.filter(id=entry.id).update(amount=31, currency="USD")
    run = ledger_check()
    kinds = sorted(drift["type"] for drift in run.drifts)
    assert kinds == ["account_currency", "balance", "transaction"]
    balance = next(d for d in run.drifts if d["type"] == "balance")
    assert (balance["stored"], balance["computed"]) == (90, 91)
    txn = next(d for d in run.drifts if d["type"] == "transaction")
    assert txn["computed"]["sum"] == 1 and txn["computed"]["currencies"] == ["EUR", "USD"]


def test_a_studio_check_sees_only_that_studio():
    ours, theirs = StudioFactory(), StudioFactory()
    _books(ours)
    their_books = _books(theirs)
    LedgerAccount.objects.filter(id=their_books["revenue"].id).update(balance=1)
    run = ledger_check(studio=ours)
    assert run.ok and run.studio == ours and run.accounts_checked == 4
    assert not ledger_check(studio=theirs).ok
    assert not ledger_check().ok


@pytest.mark.parametrize("scoped", [False, True])
def test_small_chunks_check_the_same(monkeypatch, scoped):
    monkeypatch.setattr(reconcile, "ACCOUNTS_CHUNK", 3)
    monkeypatch.setattr(reconcile, "TRANSACTIONS_CHUNK", 2)
    studios = [StudioFactory() for _ in range(3)]
    books = [_books(studio, posts=4) for studio in studios]
    LedgerAccount.objects.filter(id=books[1]["wallet"].id).update(balance=7)
    calls = []
    run = ledger_check(
        studio=studios[1] if scoped else None, progress=lambda *args: calls.append(args)
    )
    checked = 1 if scoped else 3
    assert (run.accounts_checked, run.transactions_checked) == (4 * checked, 6 * checked)
    assert run.entries_checked == 16 * checked
    assert [d["account_id"] for d in run.drifts] == [str(books[1]["wallet"].id)]
    assert calls[-1] == ("transactions", 6 * checked, 6 * checked)
    assert ("accounts", 3, 4 * checked) in calls
    assert [c[1] for c in calls if c[0] == "transactions"] == sorted(
        c[1] for c in calls if c[0] == "transactions"
    )


def test_the_listed_drifts_are_capped_but_all_counted(monkeypatch):
    monkeypatch.setattr(LedgerCheckRun, "MAX_DRIFTS", 2)
    studio = StudioFactory()
    _books(studio)
    LedgerAccount.objects.filter(studio=studio).update(balance=12345)
    run = ledger_check()
    assert run.drift_count == 4 and len(run.drifts) == 2


def test_the_command_passes_sound_books():
    studio = StudioFactory()
    _books(studio)
    out, err = io.StringIO(), io.StringIO()
    call_command("ledger_check", stdout=out, stderr=err)
    assert "Ledger OK (all studios): 4 accounts, 5 transactions, 13 entries" in out.getvalue()
    assert "transactions: 5 / 5 checked" in err.getvalue()
    call_command("ledger_check", "--studio", str(studio.id), stdout=out, stderr=err)
    assert f"Ledger OK (studio {studio.id})" in out.getvalue()


def test_the_command_exits_1_on_drift(monkeypatch):
    studio = StudioFactory()
    books = _books(studio)
    LedgerAccount.objects.filter(id=books["clearing"].id).update(balance=0)
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("ledger_check", stdout=out, stderr=io.StringIO())
    assert info.value.returncode == 1
    assert "Ledger DRIFT (all studios): 1 drift(s)" in out.getvalue()
    assert str(books["clearing"].id) in out.getvalue()
    # As a process: the exit status is 1 (its closing of the connections would end the test's
    # transaction).
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "ledger_check"])
    assert exited.value.code == 1
    assert LedgerCheckRun.objects.filter(ok=False).count() == 2


def test_the_command_refuses_an_unknown_studio():
    with pytest.raises(CommandError):
        call_command("ledger_check", "--studio", "nope", stdout=io.StringIO())


def test_the_nightly_task_checks_every_studio_and_is_on_the_beat():
    _books(StudioFactory())
    run_id = ledger_check_nightly.delay().get()
    assert LedgerCheckRun.objects.get(id=run_id).ok
    name = "billing.tasks.ledger.ledger_check_nightly"
    assert name in app.tasks
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == name]
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})
    assert settings.CELERY_TASK_ROUTES["billing.tasks.*"] == {"queue": "billing"}
