"""Issuing an invoice with its PDF: ``invoice_issue`` then ``invoice_pdf_ensure``, in a row.

A draft of 10 lines (three catalogue packages and add-ons with VAT 20%, prints with a
quantity of 12 and a 10% line discount, a free line), a 30% deposit and the balance before the
event, for a client with a full address; the studio has its legal details and a logo in
storage. Timed: the issue (number under the counter's lock, the posting to the receivable,
revenue per item and VAT, the instalments, the timeline) and then the PDF drawn by WeasyPrint
and stored with its hash (``billing.documents.invoice_pdf_ensure``, called here synchronously;
the task the issue queues after its commit is stubbed so the document is drawn once, by this
call). Storage is the local folder backend. 3 warm-up issues, then 20 timed. Target: p95 <=
1.5 s.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import tempfile
import time
from pathlib import Path

from bench import Result, percentile
from bench.django_env import fresh_database

WARMUP = 3
RUNS = 20
TARGET_P95_S = 1.5
SCHEDULE = [
    {"label": "Deposit", "percent": "30", "due": {"on": "issue"}},
    {"label": "Balance", "balance": True, "due": {"on": "before_event", "days": 14}},
]


def _png() -> bytes:
    """A small logo (a 120x40 PNG)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 40), (30, 60, 90)).save(out, format="PNG")
    return out.getvalue()


def _drafts(studio, count: int) -> list:
    from billing.services.catalogue import catalogue_item_create, tax_rate_create
    from billing.services.invoices import LineInput, invoice_create
    from picpick.testing.factories import ContactFactory

    vat = tax_rate_create(studio=studio, name="VAT", rate="20")
    items = [
        catalogue_item_create(
            studio=studio,
            kind="package" if n < 3 else "item",
            name=name,
            description="Coverage, editing and an online gallery.",
            unit_price=price,
            tax_rate_ids=[vat.id],
        )
        for n, (name, price) in enumerate(
            [
                ("Full day wedding", 250_000),
                ("Engagement session", 45_000),
                ("Second photographer", 60_000),
                ("Album 30x30", 90_000),
                ("Parents' albums", 35_000),
                ("Drone", 25_000),
            ]
        )
    ]
    copies = [{"name": "VAT", "rate": "20"}]
    drafts = []
    for n in range(count):
        contact = ContactFactory(
            studio=studio,
            first_name="Jane",
            last_name=f"Doe {n}",
            email=f"jane{n}@bench.example",
            address_line1="1 rue de la Paix",
            city="Paris",
            postal_code="75002",
            country="FR",
        )
        lines = [LineInput(catalogue_item_id=item.id) for item in items]
        lines += [
            LineInput(
                name="Prints 20x30",
                unit_price=850,
                quantity="12",
                discount_percent="10",
                taxes=copies,
            ),
            LineInput(name="Travel", unit_price=12_000, taxes=copies),
            LineInput(name="USB box", unit_price=3_500, quantity="2", taxes=copies),
            LineInput(name="Thank-you cards", unit_price=0, quantity="50"),
        ]
        drafts.append(
            invoice_create(
                studio=studio,
                contact=contact,
                currency="EUR",
                lines=lines,
                title=f"Doe wedding {n}",
                language="fr",
                event_date=dt.date(2027, 6, 19),
                schedule=[
                    {"label": "Deposit", "percent": "30", "due": {"on": "issue"}},
                    {
                        "label": "Balance",
                        "balance": True,
                        "due": {"on": "before_event", "days": 14},
                    },
                ],
            )
        )
    return drafts


def run() -> list[Result]:
    with fresh_database():
        from django.conf import settings
        from django.db import connection

        from bench.seed import studio_with_owner
        from billing.documents import invoice_pdf_ensure
        from billing.services import invoices
        from billing.services.invoices import invoice_issue
        from billing.services.wallets import billing_settings_update
        from picpick.core.storage import get_storage

        name = f"invoice_issue.{connection.vendor}"
        with tempfile.TemporaryDirectory(prefix="picpick-bench-issue-") as folder:
            settings.PICPICK_STORAGE = "local"
            settings.PICPICK_LOCAL_STORAGE_ROOT = Path(folder) / "objects"
            get_storage.cache_clear()
            studio, owner = studio_with_owner(slug="bench-invoice-issue", default_currency="EUR")
            get_storage().put_object(key="logos/bench.png", body=_png(), content_type="image/png")
            billing_settings_update(
                studio=studio,
                changes={
                    "currency": "EUR",
                    "legal_name": "Studio Lumière SARL",
                    "address": "12 rue des Arts\n75003 Paris",
                    "country": "FR",
                    "tax_id": "FR40303265045",
                    "invoice_footer": "Thank you! Payment by card on the invoice's page.",
                },
            )
            from billing.models import BillingSettings

            BillingSettings.objects.filter(studio=studio).update(logo="logos/bench.png")
            drafts = _drafts(studio, WARMUP + RUNS)
            # The issue queues the PDF task after its commit: stubbed, the bench draws it.
            issue_module = invoices.issue
            queued = issue_module.invoice_pdf_ensure_soon
            issue_module.invoice_pdf_ensure_soon = lambda invoice_id: None
            try:
                gc.collect()
                timings = []
                for n, draft in enumerate(drafts):
                    started = time.perf_counter()
                    issued = invoice_issue(invoice=draft, by=owner)
                    stored = invoice_pdf_ensure(invoice_id=issued.id)
                    elapsed = time.perf_counter() - started
                    if not stored.pdf_sha256 or len(stored.lines.all()) != 10:
                        raise AssertionError(f"invoice {issued.number}: no PDF stored")
                    if n >= WARMUP:
                        timings.append(elapsed)
            finally:
                issue_module.invoice_pdf_ensure_soon = queued
                get_storage.cache_clear()
    return [
        Result(
            name=f"{name}.10_lines_with_pdf.median",
            value=round(statistics.median(timings), 3),
            unit="s",
            target=0,
            ok=True,
        ),
        Result.at_most(
            f"{name}.10_lines_with_pdf.p95", percentile(timings, 0.95), "s", TARGET_P95_S
        ),
    ]
