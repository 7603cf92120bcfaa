"""The studio API of custom domains: /api/v1/studio/domains/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Role
from domains.models import Domain
from tests.accounts.helpers import assert_error
from tests.domains.conftest import EDGE, EDGE_V4, EDGE_V6, make_domain

URL = "/api/v1/studio/domains/"


def _url(domain, action: str = "") -> str:
    return f"{URL}{domain.id}/" + (f"{action}/" if action else "")


# --- add ---------------------------------------------------------------------------------------


def test_adding_a_subdomain_answers_the_records_to_create(alice_client, studio_a):
    response = alice_client.post(URL, {"hostname": "Photos.AnnaSmith.com."})
    assert response.status_code == 201, response.content
    body = response.json()
    domain = Domain.objects.get(studio=studio_a)
    assert body["id"] == str(domain.id)
    assert body["hostname"] == body["hostname_unicode"] == "photos.annasmith.com"
    assert (body["kind"], body["state"], body["reason"], body["is_primary"]) == (
        "subdomain",
        "pending",
        "",
        False,
    )
    assert body["url"] == "https://photos.annasmith.com"
    assert body["dns_records"] == [
        {
            "type": "TXT",
            "name": "_picpick-challenge.photos.annasmith.com",
            "value": domain.challenge_token,
            "purpose": "ownership",
        },
        {"type": "CNAME", "name": "photos.annasmith.com", "value": EDGE, "purpose": "routing"},
    ]
    assert len(domain.challenge_token) == 32
    assert body["next_check_at"] is not None


def test_adding_an_apex_asks_for_a_and_aaaa_records(alice_client):
    body = alice_client.post(URL, {"hostname": "annasmith.com"}).json()
    assert body["kind"] == "apex"
    assert [(r["type"], r["value"]) for r in body["dns_records"][1:]] == [
        ("A", EDGE_V4),
        ("AAAA", EDGE_V6),
    ]


def test_the_kind_can_be_given_for_apexes_under_two_label_suffixes(alice_client):
    body = alice_client.post(URL, {"hostname": "annasmith.co.uk", "kind": "apex"}).json()
    assert body["kind"] == "apex"
    assert {r["type"] for r in body["dns_records"]} == {"TXT", "A", "AAAA"}


def test_apex_without_an_edge_address_is_refused(alice_client, settings):
    settings.PICPICK_EDGE_IPV4 = []
    assert_error(alice_client.post(URL, {"hostname": "annasmith.com"}), 422, "apex_unsupported")


def test_tokens_are_per_domain(alice_client, bob_client):
    first = alice_client.post(URL, {"hostname": "photos.annasmith.com"}).json()
    second = bob_client.post(URL, {"hostname": "photos.annasmith.com"}).json()
    assert first["dns_records"][0]["value"] != second["dns_records"][0]["value"]


def test_unicode_is_stored_as_punycode(alice_client):
    body = alice_client.post(URL, {"hostname": "Fotos.Bücher.example"}).json()
    assert body["hostname"] == "fotos.xn--bcher-kva.example"
    assert body["hostname_unicode"] == "fotos.bücher.example"
    assert Domain.objects.get().hostname == "fotos.xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("hostname", "stored", "shown"),
    [
        ("Fotos.Straße.de", "fotos.xn--strae-oqa.de", "fotos.straße.de"),
        ("faß.de", "xn--fa-hia.de", "faß.de"),
        ("fotos.xn--strae-oqa.de", "fotos.xn--strae-oqa.de", "fotos.straße.de"),
    ],
)
def test_names_with_sharp_s_follow_idna_2008(alice_client, hostname, stored, shown):
    # IDNA 2003 (Python's codec) made straße.de into strasse.de, a different domain
    body = alice_client.post(URL, {"hostname": hostname}).json()
    assert (body["hostname"], body["hostname_unicode"]) == (stored, shown)
    assert Domain.objects.get().hostname == stored


@pytest.mark.parametrize(
    "hostname",
    [
        "not a domain",
        "under_score.example.com",
        "-photos.example.com",
        "photos..example.com",
        "photos",  # one label
        "203.0.113.5",  # an IP address
        "[2001:db8::1]",
        "photos.example.123",  # a numeric top-level label
        "a" * 64 + ".example.com",  # a label over 63
        ".".join(["abcdefghi"] * 26),  # over 253
        "x" * 2000,  # over the field's limit
        "xn--zz.example.com",  # not punycode
        "😀.example.com",  # emoji: IDNA 2003 encoded them, IDNA 2008 refuses them
        "xn--ls8h.example.com",  # the same in punycode
        "foto\u200d.example.com",  # a zero-width joiner no script needs there
        "",
    ],
)
def test_bad_hostnames_are_400(alice_client, hostname):
    error = assert_error(alice_client.post(URL, {"hostname": hostname}), 400, "validation_error")
    assert list(error["fields"]) == ["hostname"]
    assert not Domain.objects.exists()


@pytest.mark.parametrize(
    "hostname",
    [
        "localhost",  # the base domain itself (and an API host)
        "bobsweddings.localhost",  # a studio subdomain
        "www.annasmith.localhost",  # anything under the base domain
        "testserver",  # an API host
        "edge.picpick.test",  # our edge
        "web",  # an internal host
    ],
)
def test_our_own_names_are_422(alice_client, hostname):
    assert_error(alice_client.post(URL, {"hostname": hostname}), 422, "reserved_domain")
    assert not Domain.objects.exists()


def test_a_base_domain_in_production_style_is_refused_with_its_subdomains(alice_client, settings):
    settings.PICPICK_BASE_DOMAIN = "picpick.example"
    for hostname in ("picpick.example", "annasmith.picpick.example", "a.b.picpick.example"):
        assert_error(alice_client.post(URL, {"hostname": hostname}), 422, "reserved_domain")


def test_duplicate_in_the_same_studio_is_409(alice_client, studio_a):
    assert alice_client.post(URL, {"hostname": "photos.annasmith.com"}).status_code == 201
    error = assert_error(
        alice_client.post(URL, {"hostname": "PHOTOS.annasmith.com."}), 409, "domain_exists"
    )
    assert list(error["fields"]) == ["hostname"]
    assert Domain.objects.filter(studio=studio_a).count() == 1


def test_the_same_hostname_in_another_studio_is_allowed_until_ownership_is_proven(
    alice_client, bob_client, studio_b
):
    make_domain(studio_b, "photos.annasmith.com", Domain.State.ACTIVE)
    response = alice_client.post(URL, {"hostname": "photos.annasmith.com"})
    assert response.status_code == 201
    assert response.json()["state"] == "pending"


def test_a_studio_has_at_most_20_domains(alice_client, studio_a):
    for n in range(20):
        make_domain(studio_a, f"site{n}.annasmith.com")
    assert_error(
        alice_client.post(URL, {"hostname": "one-more.annasmith.com"}), 409, "domain_limit"
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"hostname": "photos.annasmith.com", "colour": "red"}, {"hostname": 42, "kind": "x"}],
)
def test_malformed_bodies_are_400(alice_client, body):
    assert_error(alice_client.post(URL, body), 400, "validation_error")


# --- list and read -------------------------------------------------------------------------------


def test_list_shows_the_studios_domains_only_in_pages(alice_client, studio_a, studio_b):
    for n in range(3):
        make_domain(studio_a, f"site{n}.annasmith.com")
    make_domain(studio_b, "photos.bobsweddings.com")
    page = alice_client.get(URL, {"page_size": 2}).json()
    assert [d["hostname"] for d in page["results"]] == [
        "site0.annasmith.com",
        "site1.annasmith.com",
    ]
    rest = alice_client.get(URL, {"page_size": 2, "cursor": page["next"]}).json()
    assert [d["hostname"] for d in rest["results"]] == ["site2.annasmith.com"]
    assert rest["next"] is None


def test_read_shows_state_and_reason(alice_client, studio_a):
    domain = make_domain(
        studio_a, "photos.annasmith.com", check_detail="No TXT record _picpick-challenge..."
    )
    body = alice_client.get(_url(domain)).json()
    assert (body["state"], body["reason"]) == ("pending", "No TXT record _picpick-challenge...")
    failed = make_domain(
        studio_a, "old.annasmith.com", Domain.State.FAILED, failure_reason="Deactivated: ..."
    )
    body = alice_client.get(_url(failed)).json()
    assert (body["state"], body["reason"], body["next_check_at"]) == (
        "failed",
        "Deactivated: ...",
        None,
    )


# --- delete ---------------------------------------------------------------------------------------


def test_delete(alice_client, studio_a):
    domain = make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE)
    assert alice_client.delete(_url(domain)).status_code == 204
    assert not Domain.objects.exists()


# --- verify now --------------------------------------------------------------------------------


def test_verify_now_checks_at_once_and_answers_the_new_state(alice_client, studio_a, fake_dns):
    domain = make_domain(studio_a, "photos.annasmith.com")
    fake_dns.prove(domain)
    fake_dns.route(domain)
    body = alice_client.post(_url(domain, "verify-now")).json()
    assert (body["state"], body["reason"]) == ("active", "")
    assert body["activated_at"] and body["verified_at"] and body["last_checked_at"]


def test_verify_now_says_what_is_missing(alice_client, studio_a, fake_dns):
    domain = make_domain(studio_a, "photos.annasmith.com")
    fake_dns.prove(domain)
    body = alice_client.post(_url(domain, "verify-now")).json()
    assert body["state"] == "verified"
    assert body["reason"] == (
        f"photos.annasmith.com needs a CNAME record to {EDGE} (found no record)."
    )


def test_verify_now_is_throttled_per_domain(alice_client, studio_a, fake_dns):
    domain = make_domain(studio_a, "photos.annasmith.com")
    other = make_domain(studio_a, "other.annasmith.com")
    assert alice_client.post(_url(domain, "verify-now")).status_code == 200
    response = alice_client.post(_url(domain, "verify-now"))
    error = assert_error(response, 429, "rate_limited")
    assert 1 <= error["retry_after"] <= 31
    assert int(response["Retry-After"]) == error["retry_after"]
    assert alice_client.post(_url(other, "verify-now")).status_code == 200


def test_verify_now_restarts_a_failed_domain(alice_client, studio_a, fake_dns):
    domain = make_domain(
        studio_a, "photos.annasmith.com", Domain.State.FAILED, failure_reason="Deactivated"
    )
    body = alice_client.post(_url(domain, "verify-now")).json()
    assert body["state"] == "pending"
    assert body["reason"].startswith("No TXT record")
    domain.refresh_from_db()
    assert domain.verify_started_at > timezone.now() - timezone.timedelta(minutes=1)
    assert domain.failure_reason == ""


# --- make primary ------------------------------------------------------------------------------


def test_make_primary_moves_the_flag(alice_client, studio_a):
    first = make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE, is_primary=True)
    second = make_domain(studio_a, "annasmith.com", Domain.State.ACTIVE)
    body = alice_client.post(_url(second, "make-primary")).json()
    assert body["is_primary"] is True
    first.refresh_from_db()
    assert first.is_primary is False
    assert alice_client.get(_url(first)).json()["is_primary"] is False


def test_only_an_active_domain_can_be_primary(alice_client, studio_a):
    domain = make_domain(studio_a, "photos.annasmith.com", Domain.State.VERIFIED)
    assert_error(alice_client.post(_url(domain, "make-primary")), 409, "domain_not_active")


# --- who may do what -----------------------------------------------------------------------------

OBJECT_CALLS = {
    "get": lambda client, url: client.get(url),
    "delete": lambda client, url: client.delete(url),
    "verify-now": lambda client, url: client.post(f"{url}verify-now/"),
    "make-primary": lambda client, url: client.post(f"{url}make-primary/"),
}


@pytest.mark.parametrize("call", sorted(OBJECT_CALLS))
def test_another_studios_domain_is_404(call, bob_client, studio_a, fake_dns):
    domain = make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE)
    assert_error(OBJECT_CALLS[call](bob_client, _url(domain)), 404, "not_found")
    domain.refresh_from_db()
    assert domain.state == Domain.State.ACTIVE


@pytest.mark.parametrize("call", sorted(OBJECT_CALLS))
def test_anonymous_is_401(call, anon_client, studio_a):
    domain = make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE)
    assert_error(OBJECT_CALLS[call](anon_client, _url(domain)), 401, "not_authenticated")


def test_anonymous_list_and_add_are_401(anon_client, db):
    assert_error(anon_client.get(URL), 401, "not_authenticated")
    assert_error(anon_client.post(URL, {"hostname": "a.example.com"}), 401, "not_authenticated")


@pytest.mark.parametrize("role", [Role.PHOTOGRAPHER, Role.ASSISTANT])
@pytest.mark.parametrize("call", ["delete", "verify-now", "make-primary", "add"])
def test_roles_without_domain_manage_are_403(role, call, member_of_a, studio_a):
    _, client = member_of_a(role)
    domain = make_domain(studio_a, "photos.annasmith.com", Domain.State.ACTIVE)
    if call == "add":
        response = client.post(URL, {"hostname": "new.annasmith.com"})
    else:
        response = OBJECT_CALLS[call](client, _url(domain))
    error = assert_error(response, 403, "permission_denied")
    assert error["permission"] == "domain.manage"
    assert Domain.objects.count() == 1


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.PHOTOGRAPHER, Role.ASSISTANT])
def test_every_role_may_view(role, member_of_a, studio_a):
    _, client = member_of_a(role)
    domain = make_domain(studio_a, "photos.annasmith.com")
    assert client.get(URL).status_code == 200
    assert client.get(_url(domain)).status_code == 200


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_may_manage(role, member_of_a, fake_dns):
    _, client = member_of_a(role)
    body = client.post(URL, {"hostname": "photos.annasmith.com"}).json()
    domain_url = f"{URL}{body['id']}/"
    assert client.post(f"{domain_url}verify-now/").status_code == 200
    assert client.delete(domain_url).status_code == 204
