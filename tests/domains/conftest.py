"""Fixtures of the custom-domain tests: a real DNS server on loopback, and domains in any state.

The verifier asks ``fake_dns``, a UDP DNS server (dnslib) on a random free port of 127.0.0.1,
through the very resolver code production uses; its records can be changed in the middle of a
test. Nothing here ever asks the internet.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from domains.models import Domain

EDGE = "edge.picpick.test"
EDGE_V4 = "203.0.113.10"
EDGE_V6 = "2001:db8::10"
STUDIO_A_HOST = "annasmith.localhost"
STUDIO_B_HOST = "bobsweddings.localhost"
_RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "TXT": TXT}


class FakeZone(BaseResolver):
    """Answers like a recursive resolver would: records by (name, type), CNAME chains followed
    for other types, NXDOMAIN for names that do not exist, SERVFAIL for names told to fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[tuple[str, str], list[str]] = {}
        self.servfail: set[str] = set()
        self.queries: list[tuple[str, str]] = []

    def reset(self) -> None:
        with self._lock:
            self.records.clear()
            self.servfail.clear()
            self.queries.clear()

    def set(self, name: str, rtype: str, *values: str) -> None:
        with self._lock:
            self.records[(name.lower(), rtype)] = list(values)

    def remove(self, name: str, rtype: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self.records if k[0] == name.lower() and rtype in (None, k[1])]:
                del self.records[key]

    def _exists(self, name: str) -> bool:
        return any(n == name or n.endswith(f".{name}") for n, _ in self.records)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((name, qtype))
            for _ in range(8):
                if name in self.servfail:
                    reply.header.rcode = RCODE.SERVFAIL
                    return reply
                values = self.records.get((name, qtype))
                if values:
                    for value in values:
                        reply.add_answer(
                            RR(f"{name}.", request.q.qtype, rdata=_RDATA[qtype](value))
                        )
                    return reply
                target = self.records.get((name, "CNAME"))
                if target and qtype != "CNAME":
                    reply.add_answer(RR(f"{name}.", QTYPE.CNAME, rdata=CNAME(f"{target[0]}.")))
                    name = target[0].lower()
                    continue
                break
            if not reply.rr and not self._exists(name):
                reply.header.rcode = RCODE.NXDOMAIN
        return reply

    # --- the records a studio creates ------------------------------------------------------

    def prove(self, domain: Domain) -> None:
        self.set(domain.txt_name, "TXT", domain.challenge_token)

    def route(self, domain: Domain) -> None:
        if domain.kind == Domain.Kind.APEX:
            self.set(domain.hostname, "A", EDGE_V4)
            self.set(domain.hostname, "AAAA", EDGE_V6)
        else:
            self.set(domain.hostname, "CNAME", EDGE)
        self.set(EDGE, "A", EDGE_V4)


@pytest.fixture(scope="session")
def _dns_server():
    zone = FakeZone()
    quiet = DNSLogger(logf=lambda _message: None)
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=quiet)  # port 0: a free one
    server.start_thread()
    yield zone, server.server.server_address[1]
    server.stop()


@pytest.fixture
def fake_dns(_dns_server, settings) -> FakeZone:
    zone, port = _dns_server
    zone.reset()
    settings.PICPICK_DNS_RESOLVER = [("127.0.0.1", port)]
    settings.PICPICK_DNS_TIMEOUT_SECONDS = 2
    return zone


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Routing answers and verify-now slots live in the cache (Redis on CI): start from nothing.
    cache.clear()
    yield
    cache.clear()


def make_domain(studio, hostname: str, state: str = Domain.State.PENDING, **fields) -> Domain:
    """A domain row in any state, written directly (the lifecycle is tested through services)."""
    now = timezone.now()
    held = state in Domain.HELD
    values = {
        "kind": Domain.Kind.APEX if hostname.count(".") == 1 else Domain.Kind.SUBDOMAIN,
        "challenge_token": f"token-{hostname}",
        "verify_started_at": now - timedelta(minutes=5),
        "next_check_at": None if state == Domain.State.FAILED else now + timedelta(hours=1),
        "held_hostname": hostname if held else None,
        "verified_at": now if held else None,
        "activated_at": now if state == Domain.State.ACTIVE else None,
        **fields,
    }
    if values.get("is_primary"):
        values.setdefault("primary_of", studio.id)
    return Domain.objects.create(studio=studio, hostname=hostname, state=state, **values)


@pytest.fixture
def custom_domain(studio_a, alice) -> Domain:
    """photos.annasmith.com, active for studio A."""
    return make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE)
