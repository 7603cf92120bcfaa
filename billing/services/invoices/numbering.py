"""Document numbers: per studio, series and year, sequential and gapless.

A number is taken inside the transaction that issues the document, under the counter row's
lock (``SELECT ... FOR UPDATE``): a rolled-back issue gives its number back with it, and two
issues at once wait for each other, so numbers run 1, 2, 3 with no gap and no repeat. The
counter row is made before the issuing transaction (``counter_ready``, committed on its own):
made inside it, racing first issues that lost the insert would each hold a shared lock on the
new row and deadlock asking for its exclusive lock (InnoDB).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Studio
from billing.models import DocumentCounter
from billing.services.wallets import billing_settings_get

SERIES_PREFIX = {
    DocumentCounter.Series.INVOICE: "invoice_prefix",
    DocumentCounter.Series.CREDIT_NOTE: "credit_note_prefix",
    DocumentCounter.Series.QUOTE: "quote_prefix",
}


def number_format(*, prefix: str, year: int, sequence: int, padding: int) -> str:
    """``INV-{year}-`` + ``0001``: the prefix with its year, the sequence zero-padded."""
    return f"{prefix.replace('{year}', str(year))}{sequence:0{max(1, padding)}d}"


def counter_ready(*, studio: Studio, series: str, year: int) -> None:
    """Make the counter row if it is new; call it before the issuing transaction."""
    if DocumentCounter.objects.filter(studio=studio, series=series, year=year).exists():
        return
    try:
        with transaction.atomic():  # a savepoint when called inside a transaction
            DocumentCounter.objects.create(studio=studio, series=series, year=year, last=0)
    except IntegrityError:
        pass  # a racing first issue made it


def number_take(*, studio: Studio, series: str, year: int) -> str:
    """The next number of ``series`` for ``year``, taken for the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a document number is taken inside the issuing transaction")
    settings = billing_settings_get(studio=studio)
    counter_ready(studio=studio, series=series, year=year)  # made already, normally
    counter = DocumentCounter.objects.select_for_update().get(
        studio=studio, series=series, year=year
    )
    counter.last += 1
    DocumentCounter.objects.filter(pk=counter.pk).update(last=counter.last)
    return number_format(
        prefix=getattr(settings, SERIES_PREFIX[series]),
        year=year,
        sequence=counter.last,
        padding=settings.number_padding,
    )
