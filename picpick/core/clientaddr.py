"""The client's address: the one answer every rate limit, audit record and log line uses.

``REMOTE_ADDR`` is the peer of the web process. Behind Caddy (docker-compose.yml) that is Caddy
for every request, so a limit keyed on it would be one bucket for the whole internet.
``X-Forwarded-For`` names the real client, but anyone can send the header: believed blindly, a
new value per request makes every per-address limit endless.

So the header is read only when the peer is one of ``PICPICK_TRUSTED_PROXIES`` (CIDRs; empty,
the default, trusts nobody and the peer is the client), and from the right: each proxy appends
the address it was called from, so the entries right of the last untrusted one were written by
our own proxies and the right-most untrusted entry is the address that called our edge.
Whatever a client wrote itself sits left of it and is never read. A malformed entry ends the
walk at the proxy that passed it on (the last trusted hop): the limit then falls on that proxy,
never on a value a client can vary.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"


def trusted_proxies(name: str, values: Iterable[str]) -> list[str]:
    """Settings reader: ``["172.30.0.0/24", "10.0.0.5", "2001:db8::/64"]`` as normalised CIDRs;
    a value that is not an address or a network stops the start."""
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {value!r} is not an IP address or CIDR.") from exc
    return networks


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def parse_address(value: str) -> Address | None:
    """One address as proxies write them ("192.0.2.1", "192.0.2.1:443", "[2001:db8::1]:443",
    "2001:db8::1"), IPv4-mapped IPv6 as IPv4; None for anything else."""
    value = value.strip()
    if value.startswith("["):  # [IPv6] or [IPv6]:port
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:  # "fe80::1%eth0": the zone names our interface, not the client
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_address_from(
    remote_addr: str | None, forwarded_for: str | None, *, trusted: Iterable[str]
) -> str:
    """The client's address from the peer and its ``X-Forwarded-For``, trusting ``trusted``."""
    peer = parse_address(remote_addr or "")
    if peer is None:
        return UNKNOWN
    networks = _networks(tuple(trusted))
    if not networks or not _trusted(peer, networks) or not forwarded_for:
        return str(peer)
    closest_trusted = peer
    # Several X-Forwarded-For headers reach WSGI joined with commas, in the order received.
    for entry in reversed(forwarded_for.split(",")):
        hop = parse_address(entry)
        if hop is None:
            break
        if not _trusted(hop, networks):
            return str(hop)
        closest_trusted = hop
    return str(closest_trusted)


def client_address(request) -> str:
    """The address of the client that sent ``request`` (a Django or a DRF request)."""
    meta = request.META
    return client_address_from(
        meta.get("REMOTE_ADDR"),
        meta.get("HTTP_X_FORWARDED_FOR"),
        trusted=settings.PICPICK_TRUSTED_PROXIES,
    )
