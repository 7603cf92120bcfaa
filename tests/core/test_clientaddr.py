"""The client address: forwarding headers believed from trusted proxies only, read from the
right, so nothing a client writes itself decides which address it is counted as."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from picpick.core import ratelimit
from picpick.core.clientaddr import (
    UNKNOWN,
    client_address,
    client_address_from,
    parse_address,
    trusted_proxies,
)

CADDY = ["172.31.250.0/24"]
TWO_HOPS = ["172.31.250.0/24", "10.1.0.0/16", "2001:db8:ffff::/48"]


def test_nobody_is_trusted_by_default(settings):
    assert settings.PICPICK_TRUSTED_PROXIES == []
    request = RequestFactory().get(
        "/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.1"
    )
    assert client_address(request) == "198.51.100.7"


@pytest.mark.parametrize(
    "forwarded_for",
    ["203.0.113.1", "203.0.113.1, 172.31.250.9", "127.0.0.1", "172.31.250.2", "garbage", ""],
)
def test_an_untrusted_peers_header_is_ignored_whatever_it_says(forwarded_for):
    assert client_address_from("198.51.100.7", forwarded_for, trusted=CADDY) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_wrote():
    assert client_address_from("172.31.250.3", "198.51.100.7", trusted=CADDY) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        # The client sent its own header; the proxy appended the real peer: right-most wins.
        ("6.6.6.6", "6.6.6.6"),
        ("1.2.3.4, 198.51.100.7", "198.51.100.7"),
        ("1.2.3.4,5.6.7.8,198.51.100.7", "198.51.100.7"),
        # A spoofed entry that claims to be a trusted proxy is left of the real client: unread.
        ("172.31.250.9, 198.51.100.7", "198.51.100.7"),
        # Two headers arrive joined with a comma, in order.
        ("1.2.3.4,198.51.100.7", "198.51.100.7"),
    ],
)
def test_the_right_most_untrusted_hop_is_the_client(forwarded_for, client):
    assert client_address_from("172.31.250.3", forwarded_for, trusted=CADDY) == client


def test_trusted_hops_are_skipped_from_the_right():
    # client -> CDN (10.1.x, appends the client) -> Caddy (appends the CDN) -> web
    chain = "1.2.3.4, 198.51.100.7, 10.1.2.3"
    assert client_address_from("172.31.250.3", chain, trusted=TWO_HOPS) == "198.51.100.7"


def test_when_every_hop_is_trusted_the_left_most_is_the_client():
    assert client_address_from("172.31.250.3", "10.1.0.5, 10.1.0.6", trusted=TWO_HOPS) == (
        "10.1.0.5"
    )


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("not-an-address", "172.31.250.3"),
        ("198.51.100.7, unknown", "172.31.250.3"),
        ("198.51.100.7, 10.1.0.9, <script>", "172.31.250.3"),
        # Garbage left of the client was written by the client: it is never reached.
        ("<script>, 198.51.100.7", "198.51.100.7"),
        # Garbage behind a trusted hop: the walk stops at that hop, the last trusted one.
        ("198.51.100.7, nonsense, 10.1.0.9", "10.1.0.9"),
        ("", "172.31.250.3"),
        (",,,", "172.31.250.3"),
        ("999.1.1.1", "172.31.250.3"),
    ],
)
def test_a_malformed_hop_ends_the_walk_at_the_proxy_that_passed_it_on(forwarded_for, client):
    # Never the garbage itself: a value the client could vary would be a new bucket each time.
    assert client_address_from("172.31.250.3", forwarded_for, trusted=TWO_HOPS) == client


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("198.51.100.7:4711", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("", None),
        ("unknown", None),
        ("198.51.100", None),
        ("[2001:db8::1", None),
        ("_hidden", None),
    ],
)
def test_addresses_are_read_as_proxies_write_them(raw, parsed):
    address = parse_address(raw)
    assert (str(address) if address is not None else None) == parsed


def test_ipv6_clients_and_proxies():
    trusted = ["2001:db8:ffff::/48"]
    assert client_address_from("2001:db8:ffff::2", "2001:db8:1::7", trusted=trusted) == (
        "2001:db8:1::7"
    )
    assert client_address_from("2001:db8:ffff::2", "[2001:db8:1::7]:5555", trusted=trusted) == (
        "2001:db8:1::7"
    )
    # An IPv4 peer written as IPv4-mapped IPv6 (dual-stack sockets) is still the trusted proxy.
    assert client_address_from("::ffff:172.31.250.3", "198.51.100.7", trusted=CADDY) == (
        "198.51.100.7"
    )


def test_a_missing_or_malformed_peer_is_unknown():
    assert client_address_from(None, "198.51.100.7", trusted=CADDY) == UNKNOWN
    assert client_address_from("", None, trusted=CADDY) == UNKNOWN


def test_client_address_reads_the_configured_proxies(settings):
    settings.PICPICK_TRUSTED_PROXIES = CADDY
    factory = RequestFactory()
    behind = factory.get("/", REMOTE_ADDR="172.31.250.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4")
    assert client_address(behind) == "1.2.3.4"
    direct = factory.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(direct) == "198.51.100.7"


def test_the_trusted_proxies_setting_refuses_what_is_not_a_network():
    assert trusted_proxies("X", ["172.31.250.0/24", "10.0.0.5", "2001:db8::/64"]) == [
        "172.31.250.0/24",
        "10.0.0.5/32",
        "2001:db8::/64",
    ]
    assert trusted_proxies("X", ["10.1.2.3/16"]) == ["10.1.0.0/16"]
    with pytest.raises(ImproperlyConfigured, match="'caddy' is not an IP address or CIDR"):
        trusted_proxies("PICPICK_TRUSTED_PROXIES", ["caddy"])


def test_an_ipv6_client_is_counted_by_its_64():
    # Anyone with a /64 has 2**64 addresses: counted one by one, no limit would ever bite.
    same = {ratelimit.client_hash(f"2001:db8:1:2::{n:x}", purpose="t") for n in range(1, 50)}
    assert len(same) == 1
    assert ratelimit.client_hash("2001:db8:1:3::1", purpose="t") not in same
    assert ratelimit.client_hash("198.51.100.7", purpose="t") != ratelimit.client_hash(
        "198.51.100.8", purpose="t"
    )
