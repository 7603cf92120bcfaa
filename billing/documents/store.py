"""An issued invoice's PDF in the object storage: written once, read back checked.

The document of record is the one drawn when the invoice was issued; later states (paid,
voided) are shown by drawing again (``invoice_pdf(..., paid=...)``), never by replacing the
stored file. ``pdf_sha256`` is set once, by a conditional UPDATE on ``pdf_sha256 = ''``, so two
workers storing at the same time agree on one document; reading it back checks the hash, so
a file changed or lost in storage is an error, not a silently different invoice.

The storage is the project's object storage (``picpick.core.storage``: S3 in production, a
folder in development and tests), where the studio's other files live.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid

from django.utils import timezone

from billing.documents.invoice import invoice_pdf
from billing.models import Invoice
from picpick.core.errors import ApplicationError, NotFound
from picpick.core.storage import ObjectNotFound, get_storage

logger = logging.getLogger("billing.documents")

PDF_CONTENT_TYPE = "application/pdf"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pdf_key(invoice: Invoice) -> str:
    """``invoices/<studio id>/<invoice id>/<number or id>.pdf`` (the number made safe for a
    key: a prefix may hold slashes or spaces)."""
    name = _UNSAFE.sub("-", invoice.number or "").strip("-.") or str(invoice.id)
    return f"invoices/{invoice.studio_id}/{invoice.id}/{name}.pdf"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(key: str) -> bytes:
    with get_storage().open(key=key) as stream:
        return stream.read()


def pdf_store(*, invoice: Invoice, data: bytes) -> Invoice:
    """Store ``data`` as the invoice's PDF unless one is stored already; the row, re-read.

    A second call leaves the first document and its hash. Two calls racing both write the
    same key (renders of one invoice are byte-identical, see ``billing.documents.pdf``) and
    one of them records its hash. Should the invoice have changed between their renders, the
    file left in storage may be the loser's: the loser then sees that and records the hash
    of what storage holds, so the row and the file never disagree.
    """
    current = Invoice.objects.get(pk=invoice.pk)
    if current.pdf_sha256:
        return current
    digest = _sha256(data)
    key = pdf_key(current)
    get_storage().put_object(key=key, body=data, content_type=PDF_CONTENT_TYPE)
    won = Invoice.objects.filter(pk=current.pk, pdf_sha256="").update(
        pdf_path=key, pdf_sha256=digest, updated_at=timezone.now()
    )
    row = Invoice.objects.get(pk=current.pk)
    if not won and row.pdf_path == key and row.pdf_sha256 != digest:
        stored = _sha256(_read(key))
        if stored != row.pdf_sha256:
            logger.warning(
                "invoice %s: a racing render replaced the stored PDF; recording its hash",
                row.id,
            )
            Invoice.objects.filter(pk=row.pk, pdf_sha256=row.pdf_sha256).update(
                pdf_sha256=stored, updated_at=timezone.now()
            )
            row = Invoice.objects.get(pk=row.pk)
    return row


def pdf_open(*, invoice: Invoice) -> bytes:
    """The stored PDF's bytes, checked against the hash recorded when it was stored.

    ``invoice_pdf_missing`` (404) when none is stored yet; ``document_corrupt`` (500, logged
    as an error) when the file is gone or is not the one stored.
    """
    stored = Invoice.objects.filter(pk=invoice.pk).values_list("pdf_path", "pdf_sha256").first()
    path, digest = stored or ("", "")
    if not digest or not path:
        raise NotFound("This invoice has no stored PDF yet.", code="invoice_pdf_missing")
    try:
        data = _read(path)
    except ObjectNotFound:
        data = None
    if data is None or _sha256(data) != digest:
        logger.error(
            "invoice %s: stored PDF %s %s",
            invoice.pk,
            path,
            "missing" if data is None else "does not match its SHA-256",
        )
        raise ApplicationError(
            "The stored document is damaged or missing.", code="document_corrupt", status=500
        )
    return data


def invoice_pdf_ensure(*, invoice_id: uuid.UUID | str) -> Invoice:
    """An issued invoice with no stored PDF gets one (drawn as it is now, without payments);
    a draft, or an invoice whose PDF is stored, is left as it is. Safe to run twice."""
    invoice = (
        Invoice.objects.select_related("studio", "contact", "credit_for")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise NotFound("No such invoice.", code="invoice_not_found")
    if invoice.number is None or invoice.pdf_sha256:
        return invoice
    return pdf_store(invoice=invoice, data=invoice_pdf(invoice))
