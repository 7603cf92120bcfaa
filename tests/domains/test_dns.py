"""domains.dns against a real DNS server on loopback: what counts as found, missing or unknown."""

from __future__ import annotations

import pytest

from domains import dns
from tests.domains.conftest import EDGE, EDGE_V4, EDGE_V6

HOST = "photos.annasmith.com"
TXT_NAME = f"_picpick-challenge.{HOST}"


def _expected(kind: str = "subdomain", host: str = HOST) -> dns.Expected:
    return dns.Expected(
        kind=kind,
        txt_name=f"_picpick-challenge.{host}",
        token="t0k3n",
        edge_cname=EDGE,
        edge_ipv4=frozenset({EDGE_V4}),
        edge_ipv6=frozenset({EDGE_V6}),
    )


@pytest.fixture
def resolver(fake_dns, settings):
    return dns.make_resolver(settings.PICPICK_DNS_RESOLVER, timeout=2)


def test_nothing_created_yet(fake_dns, resolver):
    result = dns.check(HOST, _expected(), resolver=resolver)
    assert (result.ownership, result.routing) == (False, False)
    assert f"No TXT record {TXT_NAME} with the value t0k3n." in result.reason
    assert f"{HOST} needs a CNAME record to {EDGE} (the name does not exist in DNS yet)." in (
        result.reason
    )


def test_txt_and_cname_found(fake_dns, resolver):
    fake_dns.set(TXT_NAME, "TXT", "t0k3n")
    fake_dns.set(HOST, "CNAME", EDGE)
    result = dns.check(HOST, _expected(), resolver=resolver)
    assert (result.ownership, result.routing, result.reason) == (True, True, "")


def test_the_token_may_sit_among_other_txt_values(fake_dns, resolver):
    fake_dns.set(TXT_NAME, "TXT", "google-site-verification=abc", "t0k3n")
    assert dns.check_ownership(_expected(), resolver=resolver) == (True, "")


def test_a_wrong_txt_value_is_quoted_back(fake_dns, resolver):
    fake_dns.set(TXT_NAME, "TXT", "another-token")
    owned, reason = dns.check_ownership(_expected(), resolver=resolver)
    assert owned is False
    assert "(found: another-token)" in reason


def test_a_cname_elsewhere_is_named_in_the_reason(fake_dns, resolver):
    fake_dns.set(HOST, "CNAME", "annasmith.otherhost.example")
    fake_dns.set("annasmith.otherhost.example", "A", "198.51.100.7")
    routed, reason = dns.check_routing(HOST, _expected(), resolver=resolver)
    assert routed is False
    assert "CNAME annasmith.otherhost.example" in reason
    assert "A 198.51.100.7" in reason


def test_a_cname_chain_ending_at_the_edge_counts(fake_dns, resolver):
    fake_dns.set(HOST, "CNAME", "alias.annasmith.net")
    fake_dns.set("alias.annasmith.net", "CNAME", EDGE)
    fake_dns.set(EDGE, "A", EDGE_V4)
    assert dns.check_routing(HOST, _expected(), resolver=resolver) == (True, "")


def test_flattened_cname_with_our_addresses_counts(fake_dns, resolver):
    fake_dns.set(HOST, "A", EDGE_V4)
    assert dns.check_routing(HOST, _expected(), resolver=resolver) == (True, "")


def test_apex_with_our_a_and_aaaa_records(fake_dns, resolver):
    fake_dns.set("annasmith.com", "A", EDGE_V4)
    fake_dns.set("annasmith.com", "AAAA", EDGE_V6)
    expected = _expected("apex", "annasmith.com")
    assert dns.check_routing("annasmith.com", expected, resolver=resolver) == (True, "")


def test_apex_with_a_stray_aaaa_record_is_not_routed(fake_dns, resolver):
    # IPv6 visitors would reach the old host: the AAAA record must go or point at us.
    fake_dns.set("annasmith.com", "A", EDGE_V4)
    fake_dns.set("annasmith.com", "AAAA", "2001:db8::dead")
    expected = _expected("apex", "annasmith.com")
    routed, reason = dns.check_routing("annasmith.com", expected, resolver=resolver)
    assert routed is False
    assert f"needs AAAA records for {EDGE_V6} only" in reason
    assert "AAAA 2001:db8::dead" in reason


def test_apex_with_one_of_our_addresses_and_one_foreign_is_not_routed(fake_dns, resolver):
    fake_dns.set("annasmith.com", "A", EDGE_V4, "198.51.100.7")
    expected = _expected("apex", "annasmith.com")
    routed, reason = dns.check_routing("annasmith.com", expected, resolver=resolver)
    assert routed is False
    assert f"needs A records for {EDGE_V4}" in reason


def test_servfail_is_unknown_not_missing(fake_dns, resolver):
    fake_dns.servfail.update({TXT_NAME, HOST})
    result = dns.check(HOST, _expected(), resolver=resolver)
    assert (result.ownership, result.routing) == (None, None)
    assert "could not be checked" in result.reason


def test_an_unreachable_resolver_is_unknown_not_missing():
    # Port 9 (discard) on loopback: nothing answers DNS there.
    resolver = dns.make_resolver([("127.0.0.1", 9)], timeout=1)
    result = dns.check(HOST, _expected(), resolver=resolver)
    assert (result.ownership, result.routing) == (None, None)


def test_routing_only_skips_the_txt_lookup(fake_dns, resolver):
    fake_dns.set(HOST, "CNAME", EDGE)
    result = dns.check(HOST, _expected(), resolver=resolver, ownership=False)
    assert (result.ownership, result.routing) == (True, True)
    assert (TXT_NAME, "TXT") not in fake_dns.queries


def test_the_configured_resolver_and_port_are_the_ones_asked(fake_dns, resolver):
    fake_dns.set(HOST, "CNAME", EDGE)
    dns.check_routing(HOST, _expected(), resolver=resolver)
    assert (HOST, "CNAME") in fake_dns.queries


def test_a_failing_resolver_is_asked_once_not_four_times(fake_dns, resolver):
    fake_dns.servfail.add(TXT_NAME)
    result = dns.check(HOST, _expected(), resolver=resolver)
    assert (result.ownership, result.routing) == (None, None)
    assert [name for name, _ in fake_dns.queries] == [TXT_NAME]
