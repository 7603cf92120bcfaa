"""Billing's documents: invoices, credit notes and payment receipts as PDFs (drawn by
``render``, WeasyPrint in ``pdf``), an issued invoice's PDF kept in storage (``store``), and the
words they print per language (``labels``)."""

from billing.documents.invoice import invoice_pdf
from billing.documents.receipt import receipt_pdf
from billing.documents.store import invoice_pdf_ensure, pdf_key, pdf_open, pdf_store

__all__ = ["invoice_pdf", "invoice_pdf_ensure", "pdf_key", "pdf_open", "pdf_store", "receipt_pdf"]
