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
        # IDNA 2008 keeps ß, final sigma and a zero-width non-joiner where it belongs (IDNA 2003
        # maps them away: strasse.de, fass.de, another domain than the one a browser asks for)
        ("straße.de", "xn--strae-oqa.de"),
        ("faß.de", "xn--fa-hia.de"),
        ("Straße.DE", "xn--strae-oqa.de"),
        ("xn--strae-oqa.de", "xn--strae-oqa.de"),
        ("βόλος.com", "xn--nxasmm1c.com"),
        ("نامه\u200cای.ir", "xn--mgba3gch31f060k.ir"),
        # the UTS 46 mapping: full-width letters, an ideographic full stop, a soft hyphen
        ("ｂüｃｈｅｒ.example", "xn--bcher-kva.example"),
        ("bücher\u3002example", "xn--bcher-kva.example"),
        ("bü\u00adcher.example", "xn--bcher-kva.example"),
        # an ASCII label beside a non-ASCII one is held to the hostname rules, not IDNA's
        ("r3---sn-abc.bücher.example", "r3---sn-abc.xn--bcher-kva.example"),
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
        "😀.example",  # emoji and symbols: IDNA 2003 had them, IDNA 2008 does not
        "♥.example",
        "xn--ls8h.example",  # an emoji in punycode
        "xn--g6h.example",
        "xn--zz.example",  # not punycode
        "xn---bbk.example",  # punycode, but not the canonical spelling of its label
        "a\u200db.example",  # a zero-width joiner where no script needs one
        "ab--ü.example",  # hyphens in the 3rd and 4th places of a non-ASCII label
        "٣٤.ü.example",  # a right-to-left label against the bidi rule
        "under_score.bücher.example",
        "ü" * 64 + ".example",
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
    assert to_unicode("xn--strae-oqa.de") == "straße.de"  # IDNA 2003 would not decode it


def test_an_idn_error_names_the_cause_in_words():
    with pytest.raises(InvalidHostname, match="emoji"):
        normalize_hostname("😀.example")
    with pytest.raises(InvalidHostname, match="xn--"):
        normalize_hostname("xn--ls8h.example")
