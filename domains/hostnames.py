"""Hostnames: one normal form for the Host header and for the domains studios add. Pure.

The normal form is what a browser sends and what DNS stores: lower case, no trailing dot,
internationalised names in punycode (``bücher.example`` -> ``xn--bcher-kva.example``), at most
253 characters of letter-digit-hyphen labels of at most 63 characters each.
"""

from __future__ import annotations

import ipaddress
import re

MAX_HOSTNAME_LENGTH = 253
# Work is bounded before anything is decoded: a Host header longer than this cannot become a
# valid hostname (253 characters plus a port), whatever it holds.
MAX_RAW_LENGTH = 1024
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PORT = re.compile(r"^[0-9]{0,5}$")
# Python's idna codec implements IDNA 2003, which maps these characters away (ß -> ss) where
# browsers (UTS 46, IDNA 2008) keep them: "straße.de" would become another domain than the
# one a browser asks for. Such names are refused; their xn-- form is accepted.
_IDNA2003_DEVIATIONS = frozenset("ßς\u200c\u200d")


class InvalidHostname(ValueError):
    """The text is not a hostname; the message says why, in words a studio owner understands."""


def split_host_port(raw: str) -> tuple[str, str]:
    """``"example.com:8000"`` -> ``("example.com", "8000")``; IPv6 literals keep their brackets."""
    if raw.startswith("["):
        end = raw.find("]")
        if end == -1:
            raise InvalidHostname("An IPv6 address must be written in brackets.")
        host, rest = raw[: end + 1], raw[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidHostname("Unexpected text after the IPv6 address.")
        port = rest[1:]
    else:
        host, _, port = raw.partition(":")
    if not _PORT.match(port) or (port and int(port) > 65535):
        raise InvalidHostname("The port is not a number from 0 to 65535.")
    return host, port


def _from_wire(host: str) -> str:
    """WSGI servers hand header bytes over as latin-1 text; undo that for UTF-8 names."""
    try:
        return host.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return host


def normalize_hostname(raw: str) -> str:
    """The normal form of a hostname (no port), or :class:`InvalidHostname`.

    IPv4 addresses pass (their labels are digits); IPv6 literals pass in brackets, compressed.
    """
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidHostname("The name is too long.")
    host = raw.strip()
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1] if host.endswith("]") else "-")
        except ValueError as exc:
            raise InvalidHostname("This is not an IPv6 address.") from exc
        return f"[{address.compressed}]"
    if host.endswith("."):
        host = host[:-1]  # one trailing dot: the fully qualified spelling of the same name
    if not host:
        raise InvalidHostname("The name is empty.")
    if not host.isascii():
        host = _from_wire(host)
        if _IDNA2003_DEVIATIONS & set(host.lower()):
            raise InvalidHostname(
                "Names with ß, ς or zero-width joiners must be entered in their xn-- form."
            )
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidHostname(
                "This is not a valid internationalised domain name (a label is empty, too "
                "long or has characters a domain name cannot have)."
            ) from exc
    host = host.lower()
    if len(host) > MAX_HOSTNAME_LENGTH:
        raise InvalidHostname(f"A domain name has at most {MAX_HOSTNAME_LENGTH} characters.")
    for label in host.split("."):
        if not _LABEL.match(label):
            raise InvalidHostname(
                "Each part of the name must be 1 to 63 letters, digits or inner hyphens."
            )
    return host


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def to_unicode(host: str) -> str:
    """The readable form of a punycode name (for display only); the name itself if it fails."""
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def is_under(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains."""
    return host == domain or host.endswith(f".{domain}")
