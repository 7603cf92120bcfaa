"""Invoice and receipt PDFs: drawn from the rows in the document's language, stored once with
their hash, read back checked, and never fetching anything."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import logging
import shutil
import subprocess
import threading
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from billing.documents import (
    invoice_pdf,
    invoice_pdf_ensure,
    pdf_key,
    pdf_open,
    pdf_store,
    receipt_pdf,
)
from billing.models import Invoice, LedgerAccount, Payment
from billing.tasks import documents as document_tasks
from picpick.core.errors import ApplicationError, NotFound
from picpick.core.storage import get_storage
from picpick.testing.factories import (
    BillingSettingsFactory,
    ContactFactory,
    InstalmentFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    LedgerAccountFactory,
    LedgerEntryFactory,
    LedgerTransactionFactory,
    PaymentFactory,
    StudioFactory,
)

pytestmark = pytest.mark.django_db

TOOLS = {tool: shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfimages")}
POPPLER = all(TOOLS.values())
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils (pdftotext, pdftoppm, pdfimages) is not installed"
)
ISSUED = dt.date(2026, 12, 7)
VAT = {"name": "VAT", "rate": "20", "inclusive": False, "compound": False}


@pytest.fixture
def storage(settings, tmp_path):
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "objects"
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()


@pytest.fixture
def studio_a(db):
    return StudioFactory(name="Studio A", locale="en", timezone="Europe/Paris")


def make_invoice(studio, *, lines: int = 3, **fields) -> Invoice:
    """An issued invoice as the invoice services would leave it (figures set directly):
    ``lines`` lines of 1.5 × 100.00 + 20% VAT, and a deposit/balance schedule."""
    contact = ContactFactory(studio=studio, first_name="Jane", last_name="Client")
    net = 15_000 * lines
    tax = net // 5
    defaults = {
        "number": "INV-2026-0001",
        "status": Invoice.Status.OPEN,
        "issue_date": ISSUED,
        "due_date": ISSUED + dt.timedelta(days=14),
        "subtotal": net,
        "net_total": net,
        "tax_total": tax,
        "total": net + tax,
        "tax_breakdown": [{**VAT, "base": net, "amount": tax}],
        "seller": {
            "legal_name": "Studio A Photography SARL",
            "address": "1 rue de la Paix\n75002 Paris",
            "country": "FR",
            "tax_id": "FR40303265045",
        },
        "bill_to": {
            "name": "Jane Client",
            "email": "jane@example.com",
            "address": "10 Downing Street\nLondon SW1A 2AA",
            "country": "GB",
            "tax_id": "980780684",
        },
        "notes": "Thank you for your business.",
    }
    invoice = InvoiceFactory(studio=studio, contact=contact, **(defaults | fields))
    for position in range(lines):
        InvoiceLineFactory(
            invoice=invoice,
            position=position,
            name=f"Wedding album {position + 1}",
            description="Layflat, 30 pages",
            quantity=Decimal("1.500"),
            unit_price=10_000,
            taxes=[VAT],
            gross=15_000,
            net=15_000,
            tax=3_000,
            total=18_000,
            tax_breakdown=[{**VAT, "base": 15_000, "amount": 3_000}],
        )
    deposit = (net + tax) * 3 // 10
    InstalmentFactory(
        invoice=invoice,
        position=0,
        label="Deposit",
        due_date=ISSUED,
        amount=deposit,
        paid=deposit,
        state="paid",
    )
    InstalmentFactory(
        invoice=invoice,
        position=1,
        label="Balance",
        due_date=ISSUED + dt.timedelta(days=30),
        amount=net + tax - deposit,
    )
    return invoice


def pdf_text(data: bytes, *, mode: str = "-layout") -> str:
    """The PDF's text, with Babel's narrow and non-breaking spaces as plain spaces (``-raw``:
    in drawing order, which keeps a rotated word whole)."""
    out = subprocess.run(  # noqa: S603 - a fixed tool, reading our own bytes
        [TOOLS["pdftotext"], mode, "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return out.replace("\u202f", " ").replace("\xa0", " ")


def pdf_image_count(data: bytes) -> int:
    out = subprocess.run(  # noqa: S603 - a fixed tool, reading our own bytes
        [TOOLS["pdfimages"], "-list", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return len(out.strip().splitlines()[2:])  # after the two header lines


def png_bytes(size=(120, 60), color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Content and language -------------------------------------------------------------------
@needs_poppler
def test_invoice_pdf_shows_the_invoice_in_english(studio_a, storage):
    invoice = make_invoice(studio_a)
    data = invoice_pdf(invoice)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "Invoice",
        "INV-2026-0001",
        "December 7, 2026",  # issue date
        "December 21, 2026",  # due date
        "Studio A Photography SARL",
        "FR40303265045",
        "France",
        "Bill to",
        "Jane Client",
        "jane@example.com",
        "Tax ID: GB 980 7806 84",  # the client's tax id, formatted
        "United Kingdom",
        "Wedding album 1",
        "Layflat, 30 pages",
        "1.5",  # the quantity without trailing zeros
        "€100.00",  # unit price
        "€180.00",  # a line's total
        "Subtotal",
        "€450.00",
        "VAT 20%",
        "Base €450.00",
        "€90.00",
        "Total",
        "€540.00",
        "Payment schedule",
        "Deposit",
        "Paid",
        "Balance",
        "Unpaid",
        "January 6, 2027",
        "Rounding: per line, half to even.",
        "Thank you for your business.",
        "Page 1 of 1",
    ):
        assert expected in text, expected
    assert "1.500" not in text
    assert "VOID" not in text
    assert "Balance due" not in text  # no payments given: the document as issued


@needs_poppler
@pytest.mark.parametrize(
    ("language", "studio_locale", "words", "total", "date"),
    [
        (
            "fr",
            "en",
            ("Facture", "Facturé à", "Identifiant fiscal : FR", "Sous-total", "Échéancier"),
            "540,00 €",
            "7 décembre 2026",
        ),
        (
            "",
            "de_DE",
            ("Rechnung", "Rechnung an", "Zwischensumme", "Zahlungsplan"),
            "540,00 €",
            "7. Dezember 2026",
        ),
        (
            "es",
            "en",
            ("Factura", "Facturar a", "Calendario de pagos"),
            "540,00 €",
            "7 de diciembre de 2026",
        ),
        ("it", "en", ("Fattura", "Intestata a", "Subtotale"), "540,00 €", "7 dicembre 2026"),
        ("nl", "en", ("Factuur", "Factuur aan", "Subtotaal"), "€ 540,00", "7 december 2026"),
    ],
)
def test_invoice_pdf_is_written_in_the_documents_language(
    studio_a, storage, language, studio_locale, words, total, date
):
    studio_a.locale = studio_locale
    studio_a.save(update_fields=["locale"])
    invoice = make_invoice(studio_a, lines=10, language=language)
    text = pdf_text(invoice_pdf(invoice))
    for word in words:
        assert word in text, word
    assert total in text
    assert date in text
    assert "Invoice" not in text


@needs_poppler
def test_french_amounts_group_thousands_with_spaces(studio_a, storage):
    invoice = make_invoice(studio_a, lines=10, language="fr")
    text = pdf_text(invoice_pdf(invoice))
    assert "1 500,00 €" in text  # subtotal of ten lines
    assert "1 800,00 €" in text  # total
    assert "VAT 20 %" in text  # the tax's own name, the locale's percent
    assert "1,5" in text
    assert "Arrondi : par ligne, au pair le plus proche." in text


@needs_poppler
def test_an_unknown_language_gets_english_words_and_its_own_formats(studio_a, storage):
    invoice = make_invoice(studio_a, language="pt_BR")
    text = pdf_text(invoice_pdf(invoice))
    assert "Invoice" in text and "Subtotal" in text
    assert "€ 540,00" in text
    assert "7 de dezembro de 2026" in text


@needs_poppler
def test_a_void_invoice_is_marked_void(studio_a, storage):
    invoice = make_invoice(studio_a, status=Invoice.Status.VOID)
    assert "VOID" in pdf_text(invoice_pdf(invoice), mode="-raw")


@needs_poppler
def test_a_draft_says_draft(studio_a, storage):
    invoice = make_invoice(studio_a, number=None, status=Invoice.Status.DRAFT, bill_to={})
    text = pdf_text(invoice_pdf(invoice), mode="-raw")
    assert "DRAFT" in text
    assert "Jane Client" in text  # no snapshot yet: the contact as it is


@needs_poppler
def test_a_credit_note_names_the_invoice_it_credits(studio_a, storage):
    original = make_invoice(studio_a)
    credit = make_invoice(
        studio_a,
        kind=Invoice.Kind.CREDIT_NOTE,
        number="CN-2026-0001",
        credit_for=original,
        lines=1,
    )
    text = pdf_text(invoice_pdf(credit))
    assert "Credit note" in text
    assert "Credits invoice INV-2026-0001" in text
    assert "CN-2026-0001" in text


@needs_poppler
def test_payments_late_fees_and_credits_show_the_balance_due(studio_a, storage):
    invoice = make_invoice(studio_a, late_fees=2_500, credited=4_000)
    text = pdf_text(invoice_pdf(invoice, paid=20_000))
    assert "Late fees" in text and "€25.00" in text
    assert "Credited" in text and "-€40.00" in text
    assert "Amount due" in text and "€525.00" in text  # 540 + 25 - 40
    assert "Amount paid" in text and "€200.00" in text
    assert "Balance due" in text and "€325.00" in text


@needs_poppler
def test_inclusive_taxes_and_discounts_are_shown(studio_a, storage):
    incl = {"name": "MwSt", "rate": "19", "inclusive": True, "compound": False}
    invoice = make_invoice(
        studio_a,
        lines=1,
        language="de",
        subtotal=11_900,
        discount_total=1_190,
        net_total=9_000,
        tax_total=1_710,
        total=10_710,
        tax_breakdown=[{**incl, "base": 9_000, "amount": 1_710}],
        rounding="half_up",
    )
    line = invoice.lines.get()
    line.discount = 1_190
    line.discount_percent = Decimal("10")
    line.save(update_fields=["discount", "discount_percent"])
    text = pdf_text(invoice_pdf(invoice))
    assert "MwSt 19 % (inkl.)" in text
    assert "Basis 90,00 €" in text
    assert "Rabatt" in text and "-11,90 €" in text
    assert "11,90 € (10 %)" in text
    assert "Rundung: je Zeile, kaufmännisch." in text


@needs_poppler
def test_the_clients_text_is_printed_not_interpreted(studio_a, storage):
    invoice = make_invoice(studio_a, lines=1, notes="<b>bold</b> & <i>more</i>")
    text = pdf_text(invoice_pdf(invoice))
    assert "<b>bold</b> & <i>more</i>" in text


@needs_poppler
def test_seller_falls_back_to_the_billing_settings(studio_a, storage):
    BillingSettingsFactory(
        studio=studio_a,
        legal_name="Settings Legal Name GmbH",
        address="Hauptstraße 1\n10115 Berlin",
        country="DE",
        tax_id="DE136695976",
        invoice_footer="IBAN DE89 3704 0044 0532 0130 00",
    )
    invoice = make_invoice(studio_a, seller={})
    text = pdf_text(invoice_pdf(invoice))
    assert "Settings Legal Name GmbH" in text
    assert "Hauptstraße 1" in text
    assert "DE136695976" in text
    assert "Germany" in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text


@needs_poppler
def test_page_one_renders_to_an_image(studio_a, storage, tmp_path):
    data = invoice_pdf(make_invoice(studio_a))
    (tmp_path / "invoice.pdf").write_bytes(data)
    subprocess.run(  # noqa: S603 - a fixed tool, reading our own file
        [TOOLS["pdftoppm"], "-png", "-r", "50", "-f", "1", "-l", "1", "invoice.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    page = next(tmp_path.glob("page*.png")).read_bytes()
    assert page.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(page))
    assert image.size == (414, 585)  # A4 at 50 dpi


@needs_poppler
def test_american_documents_are_on_letter_paper(studio_a, storage, tmp_path):
    data = invoice_pdf(make_invoice(studio_a, language="en_US"))
    (tmp_path / "invoice.pdf").write_bytes(data)
    subprocess.run(  # noqa: S603 - a fixed tool, reading our own file
        [TOOLS["pdftoppm"], "-png", "-r", "50", "-f", "1", "-l", "1", "invoice.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    image = Image.open(next(tmp_path.glob("page*.png")))
    assert image.size == (425, 550)


@needs_poppler
def test_a_long_invoice_runs_over_pages(studio_a, storage):
    text = pdf_text(invoice_pdf(make_invoice(studio_a, lines=200)))
    assert "Page 1 of" in text and "Page 5 of" in text
    assert "Wedding album 200" in text
    assert text.count("Description") >= 5  # the table's head on every page


def test_drawing_an_invoice_reads_a_fixed_number_of_rows(
    studio_a, storage, django_assert_max_num_queries
):
    small = make_invoice(studio_a, lines=2)
    large = make_invoice(studio_a, lines=40, number="INV-2026-0002")
    for invoice in (small, large):
        fresh = Invoice.objects.get(pk=invoice.pk)
        with django_assert_max_num_queries(6):
            invoice_pdf(fresh)


# --- The logo and the fetcher ---------------------------------------------------------------
@needs_poppler
def test_the_studio_logo_from_storage_is_drawn(studio_a, storage):
    storage.put_object(key="studios/a/billing/logo.png", body=png_bytes(), content_type="image/png")
    BillingSettingsFactory(studio=studio_a, logo="studios/a/billing/logo.png")
    data = invoice_pdf(make_invoice(studio_a))
    assert pdf_image_count(data) >= 1


@needs_poppler
@pytest.mark.parametrize("stored", [None, b"not an image at all", b""])
def test_a_missing_or_unreadable_logo_is_left_out_with_a_warning(studio_a, storage, caplog, stored):
    if stored is not None:
        storage.put_object(key="logos/bad.png", body=stored, content_type="image/png")
    BillingSettingsFactory(studio=studio_a, logo="logos/bad.png")
    invoice = make_invoice(studio_a)
    with caplog.at_level(logging.WARNING, logger="billing.documents"):
        data = invoice_pdf(invoice)
    assert data.startswith(b"%PDF-")
    assert pdf_image_count(data) == 0
    assert str(invoice.id) in caplog.text and "logo" in caplog.text


def test_the_fetcher_refuses_everything_but_data_uris():
    from billing.documents.pdf import DocumentFetcher, FetchRefused

    fetcher = DocumentFetcher()
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/logo.png",
        "file:///etc/passwd",
        "ftp://example.com/x",
    ):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
    response = fetcher.fetch("data:text/plain;base64,aGVsbG8=")
    assert response.read() == b"hello"


def test_a_document_never_reaches_the_network(tmp_path):
    from billing.documents.pdf import html_to_pdf

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        secret = tmp_path / "secret.css"
        secret.write_text("body { background: red }")
        html = (
            f'<link rel="stylesheet" href="{base}/style.css">'
            f'<link rel="stylesheet" href="file://{secret}">'
            f'<style>@import url("{base}/import.css"); @font-face {{ font-family: x; '
            f'src: url("{base}/font.woff") }}</style>'
            f'<img src="{base}/logo.png"><p style="font-family: x">Hello</p>'
            f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{base}/svg.png" '
            'width="10" height="10"/></svg>'
        )
        assert html_to_pdf(html).startswith(b"%PDF-")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


# --- Storing the PDF ------------------------------------------------------------------------
def test_the_pdf_is_stored_once_with_its_hash(studio_a, storage):
    invoice = make_invoice(studio_a)
    first = b"%PDF-1.7 first document"
    stored = pdf_store(invoice=invoice, data=first)
    assert stored.pdf_path == f"invoices/{studio_a.id}/{invoice.id}/INV-2026-0001.pdf"
    assert stored.pdf_sha256 == hashlib.sha256(first).hexdigest()
    assert pdf_open(invoice=stored) == first

    again = pdf_store(invoice=invoice, data=b"%PDF-1.7 another document")
    assert (again.pdf_path, again.pdf_sha256) == (stored.pdf_path, stored.pdf_sha256)
    assert pdf_open(invoice=invoice) == first


def test_a_number_with_odd_characters_makes_a_safe_key(studio_a):
    invoice = make_invoice(studio_a, number="INV/2026 #7")
    assert pdf_key(invoice) == f"invoices/{studio_a.id}/{invoice.id}/INV-2026-7.pdf"
    draft = make_invoice(studio_a, number=None)
    assert pdf_key(draft) == f"invoices/{studio_a.id}/{draft.id}/{draft.id}.pdf"


def test_a_tampered_pdf_is_document_corrupt(studio_a, storage, caplog):
    invoice = pdf_store(invoice=make_invoice(studio_a), data=b"%PDF-1.7 original")
    storage.put_object(
        key=invoice.pdf_path, body=b"%PDF-1.7 forged", content_type="application/pdf"
    )
    with (
        caplog.at_level(logging.ERROR, logger="billing.documents"),
        pytest.raises(ApplicationError) as caught,
    ):
        pdf_open(invoice=invoice)
    assert caught.value.code == "document_corrupt"
    assert caught.value.status_code == 500
    assert str(invoice.id) in caplog.text


def test_a_lost_pdf_is_document_corrupt(studio_a, storage):
    invoice = pdf_store(invoice=make_invoice(studio_a), data=b"%PDF-1.7 original")
    storage.delete_many(keys=[invoice.pdf_path])
    with pytest.raises(ApplicationError) as caught:
        pdf_open(invoice=invoice)
    assert caught.value.code == "document_corrupt"


def test_no_stored_pdf_is_not_found(studio_a, storage):
    with pytest.raises(NotFound) as caught:
        pdf_open(invoice=make_invoice(studio_a))
    assert caught.value.code == "invoice_pdf_missing"


def test_a_store_that_lost_a_race_keeps_row_and_file_in_agreement(studio_a, storage, monkeypatch):
    """Another worker records its hash between our write and our UPDATE, then our bytes are
    what storage holds: the row takes the hash of the stored file."""
    invoice = make_invoice(studio_a)
    real_put = type(storage).put_object

    def put_then_race(self, *, key, body, content_type, **kwargs):
        real_put(self, key=key, body=body, content_type=content_type, **kwargs)
        Invoice.objects.filter(pk=invoice.pk).update(pdf_path=key, pdf_sha256="0" * 64)

    monkeypatch.setattr(type(storage), "put_object", put_then_race)
    row = pdf_store(invoice=invoice, data=b"%PDF-1.7 ours")
    assert row.pdf_sha256 == hashlib.sha256(b"%PDF-1.7 ours").hexdigest()
    assert pdf_open(invoice=row) == b"%PDF-1.7 ours"


# --- The ensure service and its task --------------------------------------------------------
@needs_poppler
def test_ensure_draws_and_stores_an_issued_invoice_once(studio_a, storage):
    invoice = make_invoice(studio_a)
    row = invoice_pdf_ensure(invoice_id=invoice.id)
    assert row.pdf_path == pdf_key(invoice)
    data = pdf_open(invoice=row)
    assert data.startswith(b"%PDF-") and "INV-2026-0001" in pdf_text(data)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID)
    again = invoice_pdf_ensure(invoice_id=invoice.id)
    assert again.pdf_sha256 == row.pdf_sha256  # kept: the document as issued
    assert "VOID" not in pdf_text(pdf_open(invoice=again), mode="-raw")


def test_the_same_invoice_draws_the_same_bytes(studio_a, storage):
    invoice = make_invoice(studio_a)
    assert invoice_pdf(invoice) == invoice_pdf(Invoice.objects.get(pk=invoice.pk))


def test_ensure_leaves_a_draft_alone(studio_a, storage):
    draft = make_invoice(studio_a, number=None, status=Invoice.Status.DRAFT)
    row = invoice_pdf_ensure(invoice_id=draft.id)
    assert (row.pdf_path, row.pdf_sha256) == ("", "")


def test_ensure_of_an_unknown_invoice_is_not_found(storage):
    import uuid

    with pytest.raises(NotFound):
        invoice_pdf_ensure(invoice_id=uuid.uuid4())
    assert document_tasks.invoice_pdf_ensure.delay(str(uuid.uuid4())).get() is None


def test_the_task_stores_the_pdf_on_the_billing_queue(studio_a, storage, settings):
    from picpick.celery import app

    invoice = make_invoice(studio_a, lines=1)
    document_tasks.invoice_pdf_ensure_soon(invoice.id)  # eager in tests
    invoice.refresh_from_db()
    assert invoice.pdf_sha256 and invoice.pdf_path == pdf_key(invoice)
    name = "billing.tasks.documents.invoice_pdf_ensure"
    assert name in app.tasks
    assert app.amqp.router.route({}, name)["queue"].name == "billing"
    assert "billing.tasks.documents" in settings.CELERY_IMPORTS


# --- The receipt ----------------------------------------------------------------------------
@needs_poppler
def test_a_receipt_of_an_invoice_payment(studio_a, storage):
    invoice = make_invoice(studio_a, language="fr")
    receivable = LedgerAccountFactory(
        studio=studio_a, kind=LedgerAccount.Kind.RECEIVABLE, currency="EUR", key=f"inv:{invoice.id}"
    )
    invoice.receivable = receivable
    invoice.save(update_fields=["receivable"])
    issued = LedgerTransactionFactory(studio=studio_a, amount=54_000)
    LedgerEntryFactory(transaction=issued, account=receivable, amount=54_000)
    paid = LedgerTransactionFactory(
        studio=studio_a, amount=16_200, posted_at=issued.posted_at + dt.timedelta(minutes=1)
    )
    LedgerEntryFactory(transaction=paid, account=receivable, amount=-16_200)
    later = LedgerTransactionFactory(
        studio=studio_a, amount=10_000, posted_at=paid.posted_at + dt.timedelta(days=1)
    )
    LedgerEntryFactory(transaction=later, account=receivable, amount=-10_000)
    payment = PaymentFactory(
        studio=studio_a,
        purpose=Payment.Purpose.INVOICE,
        reference_id=invoice.id,
        amount=17_200,
        tip=1_000,
        state=Payment.State.SUCCEEDED,
        succeeded_at=timezone.make_aware(dt.datetime(2026, 12, 7, 23, 30), dt.UTC),
        payer_name="Jane Client",
        posted_transaction=paid,
    )
    data = receipt_pdf(payment, invoice=invoice)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "Reçu",
        "Studio A Photography SARL",
        "Reçu de",
        "Jane Client",
        "8 décembre 2026",  # 23:30 UTC is the next day in Paris
        "Paiement de",
        "Facture INV-2026-0001",
        "162,00 €",
        "Pourboire",
        "10,00 €",
        "Total payé",
        "172,00 €",
        "Reste à payer après ce paiement : 378,00 €",  # 540 - 162, the later payment not yet
        str(payment.id),
    ):
        assert expected in text, expected


def test_a_receipt_refuses_another_studios_invoice(studio_a, storage):
    other = make_invoice(StudioFactory())
    payment = PaymentFactory(
        studio=studio_a, purpose=Payment.Purpose.INVOICE, reference_id=other.id
    )
    with pytest.raises(ValueError, match="studio"):
        receipt_pdf(payment, invoice=other)


@needs_poppler
def test_a_receipt_without_an_invoice_in_the_studios_locale(studio_a, storage):
    studio_a.locale = "de_DE"
    studio_a.save(update_fields=["locale"])
    BillingSettingsFactory(studio=studio_a, legal_name="Studio A GmbH")
    payment = PaymentFactory(studio=studio_a, amount=5_000, description="Gift card")
    text = pdf_text(receipt_pdf(payment))
    assert "Quittung" in text and "Studio A GmbH" in text
    assert "50,00 €" in text and "Gift card" in text
    assert "Trinkgeld" not in text and "Offener Betrag" not in text


def test_drawing_documents_leaves_truncated_photos_failing():
    """WeasyPrint turns on Pillow's LOAD_TRUNCATED_IMAGES at import; the photo pipeline needs
    truncated files to fail, in the same process."""
    from PIL import ImageFile

    import billing.documents.pdf  # noqa: F401

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
