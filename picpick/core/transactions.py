"""Request transactions: every request is one transaction, except where a view says why not."""

from __future__ import annotations

from django.db import transaction


def outside_request_transaction(view_class):
    """Class decorator: this view's requests are not wrapped in one transaction.

    Every request is one transaction (``ATOMIC_REQUESTS``), so a view that calls two services
    leaves nothing behind when the second fails. A view whose service does I/O (object
    storage, DNS) opts out, because that service claims its rows with a committed conditional
    UPDATE, does the I/O with no transaction or lock open, and applies the result atomically
    (see STYLE); inside a request transaction the claim would hold its locks through the I/O.
    A read that computes for long (a selfie's face detection) opts out too: it writes nothing,
    and on SQLite every transaction holds the one write lock.
    """
    as_view = view_class.as_view.__func__

    def non_atomic_as_view(cls, **initkwargs):
        return transaction.non_atomic_requests(as_view(cls, **initkwargs))

    view_class.as_view = classmethod(non_atomic_as_view)
    # Read by the error handler: with no request transaction there is nothing of the view's
    # own to roll back (an enclosing transaction, a test's, is not the view's to spoil).
    view_class.request_transaction = False
    return view_class
