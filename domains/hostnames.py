"""Hostnames: one normal form for the Host header and for the domains studios add. Pure.

The normal form is what a browser sends and what DNS stores: lower case, no trailing dot,
internationalised names in punycode (``bücher.example`` -> ``xn--bcher-kva.example``), at most
253 characters of letter-digit-hyphen labels of at most 63 characters each.

Internationalised names follow IDNA 2008 with the UTS 46 mapping, as browsers do, through the
``idna`` package: ``straße.de`` is ``xn--strae-oqa.de``. Python's own ``idna`` codec is IDNA
2003, which maps ß, ς and the zero-width joiners away (``strasse.de``, another domain than the
one a browser asks for) and accepts symbols and emoji that IDNA 2008 refuses.
"""

from __future__ import annotations

import ipaddress
import re

import idna

MAX_HOSTNAME_LENGTH = 253
# Work is bounded before anything is decoded: a Host header longer than this cannot become a
# valid hostname (253 characters plus a port), whatever it holds.
MAX_RAW_LENGTH = 1024
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PORT = re.compile(r"^[0-9]{0,5}$")
# UTS 46 separates labels with these full stops too (what a CJK keyboard types).
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


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
        host = _to_ascii(_from_wire(host))
    host = host.lower()
    if len(host) > MAX_HOSTNAME_LENGTH:
        raise InvalidHostname(f"A domain name has at most {MAX_HOSTNAME_LENGTH} characters.")
    for label in host.split("."):
        if not _LABEL.match(label):
            raise InvalidHostname(
                "Each part of the name must be 1 to 63 letters, digits or inner hyphens."
            )
        if label.startswith("xn--"):
            _check_a_label(label)
    return host


_IDN_INVALID = (
    "This is not a valid internationalised domain name (a label is empty, too long or has "
    "characters a domain name cannot have, such as symbols or emoji)."
)


def _to_ascii(host: str) -> str:
    """UTS 46 mapping (case, width, compatibility forms), then each non-ASCII label IDNA 2008.

    Label by label rather than ``idna.encode`` on the whole name: a plain ASCII label is held
    to the hostname rules below, not to IDNA's, which would refuse real names such as
    ``r3---sn-abc.example`` (hyphens in the 3rd and 4th places) once another label is
    non-ASCII.
    """
    try:
        mapped = idna.uts46_remap(host, std3_rules=True)
        return ".".join(
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in _DOTS.split(mapped)
        )
    except idna.IDNAError as exc:
        raise InvalidHostname(_IDN_INVALID) from exc


def _check_a_label(label: str) -> None:
    # An xn-- label typed as such must be what an IDNA 2008 name encodes to (canonical
    # punycode of allowed characters), or it names something no browser can reach.
    try:
        idna.ulabel(label)
    except idna.IDNAError as exc:
        raise InvalidHostname("A label starting with xn-- is not valid punycode.") from exc


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def to_unicode(host: str) -> str:
    """The readable form of a punycode name (for display only); the name itself if it fails."""
    try:
        return idna.decode(host)
    except idna.IDNAError:
        return host


def is_under(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains."""
    return host == domain or host.endswith(f".{domain}")
