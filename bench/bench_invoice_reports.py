"""The invoicing reports at 100,000 issued invoices, through the API.

Seed (``bulk_create`` in batches, consistent as the services would leave it): one studio,
2,000 clients, 20 catalogue packages; 100,000 invoices in EUR issued over the last year,
each of one package line with VAT 20%, its own receivable account, its
``invoice_issued`` posting (receivable against the package's revenue account and VAT-20) and
two instalments (a 30% deposit due on issue, the balance 14 to 120 days later). 60% are paid
in full and 10% have their deposit paid (a ``payment_received`` posting each: provider
clearing against the receivable), the instalments' paid amounts and states and every
account's balance set to match. Then ``ANALYZE`` and a settled database.

Timed: ``GET /api/v1/billing/reports/receivables-aging/`` as the studio's owner (test client,
JWT): 10 warm-up requests, then 50. Target: p95 <= 200 ms. The revenue, payments and tax
reports (the last 12 months, from the ledger's ~440,000 entries) are timed the same way for
the record (20 requests each, no target). Each answer is checked against the seed.

Then 2,000 invoices in USD are added, seeded the same way: a studio invoicing in two
currencies reads each unpaid instalment joined to its invoice (for its currency), where a
one-currency studio's aging reads the instalments alone. Aging is timed again (50 requests,
same target).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import time
from decimal import Decimal

from bench import Result, percentile
from bench.django_env import fresh_database, settle_database
from bench.seed import studio_with_owner

INVOICES = 100_000
SECOND_CURRENCY = 2_000
CONTACTS = 2_000
PACKAGES = 20
BATCH = 5_000
WARMUP = 10
REQUESTS = 50
OTHER_REQUESTS = 20
TARGET_AGING_P95_MS = 200


def _post(studio, made, kind, currency, legs, when, key, source):
    """An unsaved balanced transaction of ``legs`` ((account, signed amount)) and its entries,
    added to ``made`` (transactions, entries); the accounts' balances follow."""
    from billing.models import LedgerEntry, LedgerTransaction
    from picpick.core.ids import uuid7

    transactions, entries = made
    txn = LedgerTransaction(
        id=uuid7(),
        studio=studio,
        kind=kind,
        currency=currency,
        amount=sum(a for _, a in legs if a > 0),
        debits=sum(a for _, a in legs if a > 0),
        credits=-sum(a for _, a in legs if a < 0),
        idempotency_key=key,
        source_type=source[0],
        source_id=source[1],
        posted_at=when,
    )
    transactions.append(txn)
    for account, amount in legs:
        entries.append(
            LedgerEntry(
                id=uuid7(),
                studio=studio,
                transaction=txn,
                account=account,
                amount=amount,
                currency=currency,
            )
        )
        account.balance += amount if account.debit_normal else -amount
    return txn


def _seed(
    studio, rng: random.Random, *, count: int, currency: str, first: int = 0
) -> dict[str, int]:
    """``count`` invoices in ``currency`` (numbered from ``first``), their instalments and
    ledger, as the module says; the clients, packages and shared accounts the first time. What
    aging should say: the unpaid total."""
    from django.utils import timezone

    from billing.models import (
        CatalogueItem,
        Instalment,
        Invoice,
        InvoiceLine,
        LedgerAccount,
        LedgerEntry,
        LedgerTransaction,
    )
    from crm.models import Contact
    from picpick.core.ids import uuid7

    contacts = list(Contact.objects.filter(studio=studio))
    if not contacts:
        contacts = [
            Contact(studio=studio, first_name=f"Client {n}", email=f"client{n}@bench.example")
            for n in range(CONTACTS)
        ]
        Contact.objects.bulk_create(contacts, batch_size=BATCH)
    items = list(CatalogueItem.objects.filter(studio=studio).order_by("position"))
    if not items:
        items = [
            CatalogueItem(
                studio=studio,
                kind="package",
                name=f"Package {n}",
                unit_price=50_000 + 10_000 * n,
                currency="EUR",
                position=n,
            )
            for n in range(PACKAGES)
        ]
        CatalogueItem.objects.bulk_create(items)
    accounts: dict[str, LedgerAccount] = {
        account.key: account
        for account in LedgerAccount.objects.filter(studio=studio).exclude(kind="receivable")
    }

    def shared(kind: str, currency: str, reference: str = "") -> LedgerAccount:
        key = ":".join(p for p in (kind, reference, currency) if p)
        if key not in accounts:
            accounts[key] = LedgerAccount(
                studio=studio,
                kind=kind,
                currency=currency,
                key=key,
                reference=reference,
                name=key,
            )
        return accounts[key]

    made = set(accounts)
    shared("provider_clearing", currency)
    shared("tax_payable", currency, "VAT-20")
    for item in items:
        shared("revenue", currency, f"item-{item.id.hex}")
    LedgerAccount.objects.bulk_create([a for key, a in accounts.items() if key not in made])
    today = timezone.now().date()
    owed = 0
    for start in range(first, first + count, BATCH):
        invoices, lines, instalments, receivables = [], [], [], []
        transactions, entries = [], []

        def post(kind, currency, legs, when, key, source, made=(transactions, entries)):
            return _post(studio, made, kind, currency, legs, when, key, source)

        for n in range(start, min(start + BATCH, first + count)):
            item = items[rng.randrange(PACKAGES)]
            contact = contacts[rng.randrange(CONTACTS)]
            issued_on = today - dt.timedelta(days=rng.randrange(0, 365))
            issued_at = dt.datetime.combine(issued_on, dt.time(10), tzinfo=dt.UTC)
            net = item.unit_price
            tax = net // 5
            total = net + tax
            invoice = Invoice(
                id=uuid7(),
                studio=studio,
                contact=contact,
                number=f"INV-{issued_on.year}-{n + 1:06d}",
                status=Invoice.Status.OPEN,
                currency=currency,
                issue_date=issued_on,
                due_date=issued_on + dt.timedelta(days=14),
                subtotal=net,
                net_total=net,
                tax_total=tax,
                total=total,
                tax_breakdown=[
                    {"name": "VAT", "rate": "20", "inclusive": False, "compound": False}
                    | {"base": net, "amount": tax}
                ],
                issued_at=issued_at,
            )
            receivable = LedgerAccount(  # its balance is final once its postings are made
                id=uuid7(),
                studio=studio,
                kind="receivable",
                currency=currency,
                key=f"receivable:{contact.id}:inv-{invoice.id.hex}:{currency}",
                contact=contact,
                reference=f"inv-{invoice.id.hex}",
                name=f"Invoice {invoice.number}",
            )
            receivables.append(receivable)
            invoice.receivable = receivable
            issued = post(
                "invoice_issued",
                currency,
                [
                    (receivable, total),
                    (shared("revenue", currency, f"item-{item.id.hex}"), -net),
                    (shared("tax_payable", currency, "VAT-20"), -tax),
                ],
                issued_at,
                f"invoice-issued:{invoice.id}",
                ("invoice", invoice.id),
            )
            invoice.issued_transaction = issued
            lines.append(
                InvoiceLine(
                    studio=studio,
                    invoice=invoice,
                    catalogue_item=item,
                    name=item.name,
                    quantity=Decimal(1),
                    unit_price=net,
                    taxes=[{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}],
                    gross=net,
                    net=net,
                    tax=tax,
                    total=total,
                    tax_breakdown=invoice.tax_breakdown,
                )
            )
            deposit = total * 3 // 10
            balance_due = issued_on + dt.timedelta(days=rng.randrange(14, 121))
            roll = rng.random()
            paid = total if roll < 0.6 else deposit if roll < 0.7 else 0
            if paid:
                paid_at = issued_at + dt.timedelta(days=rng.randrange(0, 10))
                post(
                    "payment_received",
                    currency,
                    [(shared("provider_clearing", currency), paid), (receivable, -paid)],
                    paid_at,
                    f"seed-payment:{invoice.id}",
                    ("payment", uuid7()),
                )
                invoice.status = (
                    Invoice.Status.PAID if paid == total else Invoice.Status.PARTIALLY_PAID
                )
                invoice.paid_at = paid_at if paid == total else None
            for position, (label, amount, due) in enumerate(
                (("Deposit", deposit, issued_on), ("Balance", total - deposit, balance_due))
            ):
                covered = min(amount, max(0, paid - (deposit if position else 0)))
                state = (
                    Instalment.State.PAID
                    if covered == amount
                    else Instalment.State.PARTIALLY_PAID
                    if covered
                    else Instalment.State.PENDING
                )
                instalments.append(
                    Instalment(
                        studio=studio,
                        invoice=invoice,
                        position=position,
                        label=label,
                        due_date=due,
                        amount=amount,
                        paid=covered,
                        state=state,
                    )
                )
            owed += total - paid
            invoices.append(invoice)
        LedgerAccount.objects.bulk_create(receivables, batch_size=BATCH)
        LedgerTransaction.objects.bulk_create(transactions, batch_size=BATCH)
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
        Invoice.objects.bulk_create(invoices, batch_size=BATCH)
        InvoiceLine.objects.bulk_create(lines, batch_size=BATCH)
        Instalment.objects.bulk_create(instalments, batch_size=BATCH)
    LedgerAccount.objects.bulk_update(list(accounts.values()), ["balance"])
    return {currency: owed}


def _timed(client, url: str, params: dict, count: int) -> tuple[list[float], dict]:
    for _ in range(min(WARMUP, count)):
        client.get(url, params)
    timings, body = [], {}
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, params)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise AssertionError(f"{url}: {response.status_code} {response.content[:300]!r}")
        body = response.json()
    return timings, body


def _analyze() -> None:
    from django.db import connection

    tables = (
        "billing_invoice, billing_instalment, billing_invoiceline, billing_ledgeraccount, "
        "billing_ledgertransaction, billing_ledgerentry"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else f"ANALYZE TABLE {tables}")
        if connection.vendor != "sqlite":
            cursor.fetchall()


def _aging(client, owed: dict[str, int]) -> list[float]:
    timings, body = _timed(client, "/api/v1/billing/reports/receivables-aging/", {}, REQUESTS)
    got = {row["currency"]: row["total"]["amount"] for row in body["rows"]}
    if got != owed:
        raise AssertionError(f"aging says {got}, the seed owes {owed}")
    return timings


def run() -> list[Result]:
    with fresh_database():
        from django.db import connection
        from django.test import Client

        from accounts.tokens import token_pair_for
        from billing.services.reconcile import ledger_check

        vendor = connection.vendor
        rng = random.Random(20_261_207)
        started = time.perf_counter()
        studio, owner = studio_with_owner(slug="bench-invoice-reports")
        owed = _seed(studio, rng, count=INVOICES, currency="EUR")
        _analyze()
        seed_s = time.perf_counter() - started
        check = ledger_check(studio=studio)
        if not check.ok:
            raise AssertionError(f"the seed's ledger does not balance: {check.drifts[:3]}")
        settle_database()

        access = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")
        gc.collect()
        gc.freeze()
        name = f"invoice_reports.{vendor}"
        timings = _aging(client, owed)
        results = [
            Result(name=f"{name}.seed_100k", value=round(seed_s, 1), unit="s", target=0, ok=True),
            Result.at_most(
                f"{name}.aging.p95", percentile(timings, 0.95), "ms", TARGET_AGING_P95_MS
            ),
            Result(
                name=f"{name}.aging.median",
                value=round(statistics.median(timings), 1),
                unit="ms",
                target=0,
                ok=True,
            ),
        ]
        for report in ("revenue", "payments", "tax"):
            timings, body = _timed(client, f"/api/v1/billing/reports/{report}/", {}, OTHER_REQUESTS)
            if not body["rows"]:
                raise AssertionError(f"{report}: no rows")
            results.append(
                Result(
                    name=f"{name}.{report}_12_months.p95",
                    value=round(percentile(timings, 0.95), 1),
                    unit="ms",
                    target=0,
                    ok=True,
                )
            )
        gc.unfreeze()

        # A second currency: each unpaid instalment is joined to its invoice for its currency.
        owed |= _seed(studio, rng, count=SECOND_CURRENCY, currency="USD", first=INVOICES)
        _analyze()
        settle_database()
        gc.collect()
        gc.freeze()
        timings = _aging(client, owed)
        gc.unfreeze()
        results.append(
            Result.at_most(
                f"{name}.aging_two_currencies.p95",
                percentile(timings, 0.95),
                "ms",
                TARGET_AGING_P95_MS,
            )
        )
    return results
