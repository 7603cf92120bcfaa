"""The one normal form of hostnames (domains.hostnames): pure, no database."""

from __future__ import annotations

import pytest

from domains.hostnames import (
    InvalidHostname,
    is_ip_address,
    normalize_hostname,
    split_host_port,
    to_unicode,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photos.annasmith.com", "photos.annasmith.com"),
        ("Photos.AnnaSmith.COM", "photos.annasmith.com"),
        ("photos.annasmith.com.", "photos.annasmith.com"),
        ("  photos.annasmith.com ", "photos.annasmith.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
        ("фото.рф", "xn--n1aalg.xn--p1ai"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("[2001:DB8:0:0::10]", "[2001:db8::10]"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
    ],
)
def test_normal_form(raw, expected):
    assert normalize_hostname(raw) == expected


def test_utf8_bytes_read_as_latin1_by_the_wsgi_server_are_decoded():
    wire = "bücher.example".encode().decode("latin-1")
    assert normalize_hostname(wire) == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "a..b",
        ".example.com",
        "exa mple.com",
        "under_score.example",
        "-leading.example",
        "trailing-.example",
        "example.com..",
        "a" * 64 + ".example",
        ".".join(["abcdefghi"] * 26),  # 259 characters
        "x" * 5000,
        "straße.de",  # IDNA 2003 and browsers disagree: refused, its xn-- form is accepted
        "ex<script>.com",
        "[not-an-ip]",
        "[::1",
    ],
)
def test_refused(raw):
    with pytest.raises(InvalidHostname):
        normalize_hostname(raw)


def test_253_characters_is_the_limit():
    name = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(name) == 253
    assert normalize_hostname(name) == name
    with pytest.raises(InvalidHostname, match="253"):
        normalize_hostname(name + "b")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", ("example.com", "")),
        ("example.com:8000", ("example.com", "8000")),
        ("example.com:", ("example.com", "")),
        ("[::1]:8000", ("[::1]", "8000")),
        ("[::1]", ("[::1]", "")),
    ],
)
def test_split_host_port(raw, expected):
    assert split_host_port(raw) == expected


@pytest.mark.parametrize("raw", ["example.com:http", "example.com:99999", "[::1]x", "[::1"])
def test_split_host_port_refuses_bad_ports(raw):
    with pytest.raises(InvalidHostname):
        split_host_port(raw)


def test_helpers():
    assert is_ip_address("192.0.2.1") and is_ip_address("[2001:db8::1]")
    assert not is_ip_address("example.com")
    assert to_unicode("xn--bcher-kva.example") == "bücher.example"
    assert to_unicode("xn--zz.example") == "xn--zz.example"  # not punycode: shown as is
