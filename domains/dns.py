"""DNS checks of a custom domain: a hostname and the expected values in, a result with a reason.

No ORM and no settings here: the caller passes the expected values and a resolver (tests point
one at a DNS server on loopback). Only the lookups are I/O, through dnspython.

A lookup that gets no usable answer (timeout, SERVFAIL, refused) is "unknown", never "missing":
an outage of a resolver must not fail new domains faster or deactivate active ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

MAX_SHOWN = 3  # values quoted back in a reason


@dataclass(frozen=True)
class Expected:
    """What a custom domain's records must hold."""

    kind: str  # "subdomain" (a CNAME is asked for) or "apex" (A/AAAA records)
    txt_name: str
    token: str
    edge_cname: str
    edge_ipv4: frozenset[str]
    edge_ipv6: frozenset[str]


@dataclass(frozen=True)
class CheckResult:
    """``ownership`` / ``routing``: True (found), False (definitely missing or wrong) or None
    (the lookup failed; nothing can be concluded). ``reasons`` say what is missing or failed."""

    ownership: bool | None
    routing: bool | None
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


class _Lookup:
    """One lookup's outcome: values, "none" (NXDOMAIN / no record of that type) or an error."""

    def __init__(
        self,
        values: list[str] | None = None,
        *,
        error: str = "",
        nxdomain: bool = False,
        chain: Iterable[str] = (),
    ):
        self.values = values or []
        self.error = error
        self.nxdomain = nxdomain
        self.chain = list(chain)  # CNAME targets seen while answering (A/AAAA lookups)


def make_resolver(nameservers: list[tuple[str, int]], *, timeout: float) -> dns.resolver.Resolver:
    """A resolver asking ``nameservers`` (``[(address, port)]``), or the system's when empty."""
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port) for address, port in nameservers
        ]
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def _name(value: str) -> str:
    return value.rstrip(".").lower()


def _lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> _Lookup:
    try:
        answer = resolver.resolve(f"{name}.", rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return _Lookup(nxdomain=True)
    except dns.resolver.LifetimeTimeout:
        return _Lookup(error=f"the DNS lookup of {name} ({rdtype}) timed out")
    except dns.resolver.NoNameservers:
        return _Lookup(error=f"no DNS server answered the lookup of {name} ({rdtype})")
    except dns.exception.DNSException as exc:
        return _Lookup(error=f"the DNS lookup of {name} ({rdtype}) failed ({type(exc).__name__})")
    chain = [
        _name(rdata.target.to_text())
        for rrset in answer.response.answer
        if rrset.rdtype == dns.rdatatype.CNAME
        for rdata in rrset
    ]
    if answer.rrset is None:
        return _Lookup(chain=chain)
    if rdtype == "TXT":
        values = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer.rrset]
    elif rdtype == "CNAME":
        values = [_name(rdata.target.to_text()) for rdata in answer.rrset]
    else:
        values = [rdata.to_text() for rdata in answer.rrset]
    return _Lookup(values, chain=chain)


def _shown(values: Iterable[str]) -> str:
    values = sorted(values)
    text = ", ".join(values[:MAX_SHOWN])
    return text + (f" and {len(values) - MAX_SHOWN} more" if len(values) > MAX_SHOWN else "")


def check_ownership(
    expected: Expected, *, resolver: dns.resolver.Resolver
) -> tuple[bool | None, str]:
    txt = _lookup(resolver, expected.txt_name, "TXT")
    if txt.error:
        return None, f"Ownership could not be checked: {txt.error}."
    if expected.token in (value.strip().strip('"') for value in txt.values):
        return True, ""
    found = f" (found: {_shown(txt.values)})" if txt.values else ""
    return False, f"No TXT record {expected.txt_name} with the value {expected.token}{found}."


def check_routing(
    hostname: str, expected: Expected, *, resolver: dns.resolver.Resolver
) -> tuple[bool | None, str]:
    """The hostname reaches our edge: a CNAME to it (directly or down a chain), or A (and AAAA,
    if any) records that are all edge addresses (apex records, or a provider that flattens
    CNAMEs)."""
    cname = _lookup(resolver, hostname, "CNAME")
    if cname.error:
        return None, f"Routing could not be checked: {cname.error}."
    if expected.edge_cname in cname.values:
        return True, ""
    v4 = _lookup(resolver, hostname, "A")
    v6 = _lookup(resolver, hostname, "AAAA")
    for lookup in (v4, v6):
        if lookup.error:
            return None, f"Routing could not be checked: {lookup.error}."
    if expected.edge_cname in v4.chain or expected.edge_cname in v6.chain:
        return True, ""
    v4_ours = bool(v4.values) and set(v4.values) <= expected.edge_ipv4
    v6_ours = set(v6.values) <= expected.edge_ipv6
    if v4_ours and v6_ours:
        return True, ""

    found = []
    if cname.values:
        found.append(f"CNAME {_shown(cname.values)}")
    if v4.values:
        found.append(f"A {_shown(v4.values)}")
    if v6.values:
        found.append(f"AAAA {_shown(v6.values)}")
    seen = f"found {'; '.join(found)}" if found else "found no record"
    if cname.nxdomain and not found:
        seen = "the name does not exist in DNS yet"
    if v4_ours and not v6_ours:
        wanted = (
            f"AAAA records for {_shown(expected.edge_ipv6)} only"
            if expected.edge_ipv6
            else "no AAAA record"
        )
        return False, f"{hostname} needs {wanted} ({seen})."
    if expected.kind == "apex" or not expected.edge_cname:
        wanted = f"A records for {_shown(expected.edge_ipv4)}"
        if expected.edge_ipv6:
            wanted += f" (and AAAA records for {_shown(expected.edge_ipv6)})"
    else:
        wanted = f"a CNAME record to {expected.edge_cname}"
    return False, f"{hostname} needs {wanted} ({seen})."


def check(
    hostname: str,
    expected: Expected,
    *,
    resolver: dns.resolver.Resolver,
    ownership: bool = True,
) -> CheckResult:
    """Look the domain's records up. ``ownership=False`` skips the TXT record (an active domain
    is re-checked for its routing only: the TXT record may be removed once verified)."""
    reasons = []
    owned: bool | None = True
    if ownership:
        owned, reason = check_ownership(expected, resolver=resolver)
        if reason:
            reasons.append(reason)
        if owned is None:
            # The resolver is failing: three more lookups would each wait out the timeout too.
            return CheckResult(ownership=None, routing=None, reasons=tuple(reasons))
    routed, reason = check_routing(hostname, expected, resolver=resolver)
    if reason:
        reasons.append(reason)
    return CheckResult(ownership=owned, routing=routed, reasons=tuple(reasons))
