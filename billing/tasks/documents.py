"""Invoice documents' tasks (queue ``billing``). Thin: they take ids and call one service.

The invoice services queue ``invoice_pdf_ensure`` after the commit that issues an invoice
(``invoice_pdf_ensure_soon`` inside ``transaction.on_commit``); the service is imported inside
the task body, as the services import this module to queue."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger("billing.documents")


# A 200-line invoice draws in well under the soft limit; WeasyPrint's first load in a fresh
# worker (fonts) takes a few seconds more.
@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def invoice_pdf_ensure(invoice_id: str) -> str | None:
    """Draw and store an issued invoice's PDF if it has none (a duplicate changes nothing)."""
    from billing.documents import invoice_pdf_ensure as ensure
    from picpick.core.errors import NotFound

    try:
        invoice = ensure(invoice_id=invoice_id)
    except NotFound:
        logger.warning("invoice %s: no such invoice, no PDF drawn", invoice_id)
        return None
    return invoice.pdf_path or None


def invoice_pdf_ensure_soon(invoice_id) -> None:
    invoice_pdf_ensure.delay(str(invoice_id))


@shared_task
def invoice_documents_sweep() -> int:
    """Queue the PDF of issued invoices that still have none a while after their issue."""
    from billing.services.invoices.issue import invoice_documents_missing

    missing = invoice_documents_missing()
    for invoice_id in missing:
        invoice_pdf_ensure_soon(invoice_id)
    if missing:
        logger.warning("%d issued invoices had no PDF: queued again", len(missing))
    return len(missing)
