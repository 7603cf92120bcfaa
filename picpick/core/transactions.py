"""Request transactions: every request that may write is one transaction.

A POST, PUT, PATCH or DELETE runs its view inside one transaction, so a view that calls two
services leaves nothing behind when the second one fails: DRF's exception handler (``errors``)
marks the rollback of any error it answers, and an exception it does not answer rolls back on
its way out. Reads (GET, HEAD, OPTIONS) write nothing and run in autocommit: no BEGIN/COMMIT
round trips on the hot paths (photo pages, the TLS ask), and on SQLite no write lock taken for
a read.

Django's ``ATOMIC_REQUESTS`` would do the same for every method; this is that, per method.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_IN_TRANSACTION = "_picpick_request_transaction"


def outside_request_transaction(view_class):
    """Class decorator: this view's requests are not wrapped in one transaction.

    A view whose service does I/O (object storage, DNS) opts out, because that service claims
    its rows with a committed conditional UPDATE, does the I/O with no transaction or lock
    open, and applies the result atomically (see STYLE); inside a request transaction the
    claim would hold its locks through the I/O. A request that computes for long (a selfie's
    face detection) opts out too: it writes next to nothing, and on SQLite every transaction
    holds the one write lock.
    """
    view_class.request_transaction = False
    return view_class


def in_request_transaction(request: HttpRequest) -> bool:
    """Whether ``request`` (Django's or DRF's) runs inside its own request transaction."""
    return getattr(getattr(request, "_request", request), _IN_TRANSACTION, False)


class RequestTransactionMiddleware:
    """Runs the view of every writing request inside one transaction.

    Last in MIDDLEWARE: the other middlewares' ``process_view`` (the CSRF check) run first,
    then this one calls the view itself, as Django's ``ATOMIC_REQUESTS`` wrapper would.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method in SAFE_METHODS:
            return None
        view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
        if getattr(view_class, "request_transaction", True) is False:
            return None
        with transaction.atomic():
            setattr(request, _IN_TRANSACTION, True)
            try:
                return view_func(request, *view_args, **view_kwargs)
            finally:
                setattr(request, _IN_TRANSACTION, False)
