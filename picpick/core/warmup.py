"""A web worker made ready before its first request: every URL configuration loaded (which
imports every view, serializer and OpenAPI declaration), then the garbage collector told to
leave what the process holds for its whole life alone.

Django loads a URL configuration at the first request that needs it, so a worker frozen right
after start-up froze only the apps: the ~70,000 objects the URL configurations bring were then
walked by every full collection, which fell inside a request every few dozen (35-40 ms added to
a contact search, 2 requests in 100). Loaded first and frozen with the rest, a full collection
walks only what requests leave behind.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver

# The URL configurations a request may be routed to (``domains.middleware`` picks them by
# host): the API's, the studios' sites' and the internal one.
URLCONFS = ("picpick.urls_site", "picpick.urls_internal")


def worker_warm_up() -> int:
    """Load every URL configuration; the number of URL patterns found."""
    count = 0
    for urlconf in (settings.ROOT_URLCONF, *URLCONFS):
        resolver = get_resolver(urlconf)
        resolver._populate()  # the reverse lookups too, built at the first reverse() otherwise
        count += len(resolver.url_patterns)
    return count


def worker_freeze() -> None:
    """Warm up, collect what start-up left as garbage, and freeze the rest."""
    worker_warm_up()
    gc.collect()
    gc.freeze()
