"""Studio slugs. Pure: no ORM.

A studio's slug is also its subdomain (``<slug>.<base domain>``) and a path segment of the
client-facing site, so the names our own hosts use can never be studio slugs; domains routes
none of them to a studio.
"""

RESERVED_SUBDOMAINS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "cdn", "dashboard", "docs", "edge",
        "email", "ftp", "help", "internal", "login", "mail", "media", "mx", "ns1", "ns2",
        "smtp", "staging", "static", "status", "support", "web", "webmail", "www",
    }
)  # fmt: skip
