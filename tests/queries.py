"""Counting a request's queries."""

from __future__ import annotations

import re

from django.test.utils import CaptureQueriesContext

_SAVEPOINT_SQL = re.compile(r"^\s*(RELEASE |ROLLBACK TO )?SAVEPOINT\b", re.IGNORECASE)


class QueryCount(CaptureQueriesContext):
    """Every writing request is one transaction (picpick.core.transactions). Inside a test's
    own transaction that transaction is a savepoint, whose statements a deployment never sends
    (it sends BEGIN/COMMIT, which Django does not count as queries): counts leave them out."""

    @property
    def captured_queries(self):
        return [q for q in super().captured_queries if not _SAVEPOINT_SQL.match(q["sql"])]

    def __len__(self) -> int:
        return len(self.captured_queries)
