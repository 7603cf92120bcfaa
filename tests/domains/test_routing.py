"""Host routing: the first middleware, its cache, the TLS ask endpoint and site URLs."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from django.contrib import admin as django_admin
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import set_urlconf
from django.utils import timezone

from accounts.admin import StudioAdmin
from accounts.models import Studio
from accounts.services import studio_create
from domains import selectors, services
from domains.middleware import HostRoutingMiddleware
from domains.models import Domain
from domains.routing import Site
from picpick.core.observability import context
from picpick.testing.factories import StudioFactory, UserFactory
from tests.domains.conftest import STUDIO_A_HOST, STUDIO_B_HOST, make_domain
from tests.logscan import capture_lines

ASK = "/internal/tls-ask"
CUSTOM = "photos.annasmith.com"


@pytest.fixture
def client() -> Client:
    return Client()


def _site_of(host: str, **meta) -> tuple:
    """Runs the middleware alone; returns (response or None, the request it passed on)."""
    passed = HttpResponse("passed")
    seen = {}

    def view(request):
        seen["request"] = request
        return passed

    request = RequestFactory().get("/healthz", HTTP_HOST=host, **meta)
    try:
        response = HostRoutingMiddleware(view)(request)
    finally:
        set_urlconf(None)  # what Django's handler does when a request finishes
    return (None if response is passed else response), seen.get("request")


def _assert_refused(response, code: str, host: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == code
    assert host.lower() not in response.content.decode().lower()


# --- which site a host is ----------------------------------------------------------------------


def test_api_host(db):
    response, request = _site_of("testserver")
    assert response is None
    assert request.site == Site(kind="api", host="testserver")
    assert not hasattr(request, "urlconf")


def test_studio_subdomain(studio_a):
    _, request = _site_of(STUDIO_A_HOST)
    assert request.site == Site(kind="studio", host=STUDIO_A_HOST, studio_id=studio_a.id)
    assert request.urlconf == "picpick.urls_site"
    assert request.site.is_custom_domain is False


def test_active_custom_domain(studio_a, custom_domain):
    _, request = _site_of(CUSTOM)
    assert request.site == Site(
        kind="studio", host=CUSTOM, studio_id=studio_a.id, domain_id=custom_domain.id
    )
    assert request.site.is_custom_domain is True
    assert request.urlconf == "picpick.urls_site"


def test_internal_host(db):
    _, request = _site_of("web:8000")
    assert request.site == Site(kind="internal", host="web")
    assert request.urlconf == "picpick.urls_internal"


def test_site_is_frozen(db):
    with pytest.raises(dataclasses.FrozenInstanceError):
        Site(kind="api", host="testserver").kind = "studio"


@pytest.mark.parametrize(
    "host",
    [
        "annasmith.localhost:8000",
        "AnnaSmith.LOCALHOST",
        "annasmith.localhost.",
        "ANNASMITH.localhost.:8000",
    ],
)
def test_port_case_and_trailing_dot_are_normalised(studio_a, host):
    response, request = _site_of(host)
    assert response is None
    assert request.site.host == STUDIO_A_HOST
    assert request.get_host().split(":")[0] == STUDIO_A_HOST


@pytest.mark.parametrize(
    "host",
    [
        "fotos.xn--bcher-kva.example",
        "fotos.bücher.example",
        "FOTOS.BÜCHER.EXAMPLE:443",
        "fotos.bücher.example".encode().decode("latin-1"),  # UTF-8 bytes, as WSGI hands them over
    ],
)
def test_internationalised_custom_domains_in_punycode_or_unicode(studio_a, host):
    domain = make_domain(studio_a, "fotos.xn--bcher-kva.example", Domain.State.ACTIVE)
    response, request = _site_of(host)
    assert response is None
    assert request.site.domain_id == domain.id
    # Everything downstream sees the punycode form (Django's own host check accepts it).
    assert request.get_host().split(":")[0] == "fotos.xn--bcher-kva.example"


@pytest.mark.parametrize(
    "host",
    [
        "fotos.straße.de",
        "FOTOS.STRAßE.DE",
        "fotos.straße.de:8443",
        "fotos.xn--strae-oqa.de",
        "fotos.straße.de".encode().decode("latin-1"),  # UTF-8 bytes, as WSGI hands them over
    ],
)
def test_a_host_with_sharp_s_routes_to_its_idna_2008_custom_domain(studio_a, host):
    domain = make_domain(studio_a, "fotos.xn--strae-oqa.de", Domain.State.ACTIVE)
    make_domain(StudioFactory(), "fotos.strasse.de", Domain.State.ACTIVE)  # IDNA 2003's reading
    response, request = _site_of(host)
    assert response is None
    assert request.site.domain_id == domain.id
    assert request.get_host().split(":")[0] == "fotos.xn--strae-oqa.de"


@pytest.mark.parametrize("host", ["😀.example", "xn--ls8h.example", "a\u200db.example"])
def test_a_host_idna_2008_refuses_is_invalid_host(db, host):
    response, _ = _site_of(host)
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "invalid_host"


def test_unknown_host_is_400_without_echoing_it(client, db):
    host = "attacker-controlled-name.example"
    response = client.get("/healthz", HTTP_HOST=host)
    _assert_refused(response, "unknown_host", host)
    assert response.json()["error"]["message"] == "This host is not served here."


@pytest.mark.parametrize(
    "host",
    [
        "a" * 5000,
        ".".join(["abcdefghi"] * 26),
        "exa mple.com",
        "<script>alert(1)</script>",
        "annasmith.localhost:port",
        "under_score.example",
        "[::1",
    ],
)
def test_invalid_hosts_are_400(client, db, host):
    _assert_refused(client.get("/healthz", HTTP_HOST=host), "invalid_host", host)


def test_a_deleted_studios_subdomain_is_not_served(client, studio_a):
    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    _assert_refused(client.get("/healthz", HTTP_HOST=STUDIO_A_HOST), "unknown_host", "annasmith")


def test_a_deleted_studios_custom_domain_is_not_served(client, studio_a, custom_domain):
    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    _assert_refused(client.get("/healthz", HTTP_HOST=CUSTOM), "unknown_host", CUSTOM)


@pytest.mark.parametrize(
    "state", [Domain.State.PENDING, Domain.State.VERIFIED, Domain.State.FAILED]
)
def test_a_custom_domain_is_served_only_once_active(client, studio_a, state):
    make_domain(studio_a, CUSTOM, state)
    _assert_refused(client.get("/healthz", HTTP_HOST=CUSTOM), "unknown_host", CUSTOM)


@pytest.mark.parametrize(
    "host", ["www.localhost", "api.localhost", "deeper.annasmith.localhost", "localhost.example"]
)
def test_reserved_and_deeper_names_under_the_base_domain_are_unknown(client, studio_a, host):
    _assert_refused(client.get("/healthz", HTTP_HOST=host), "unknown_host", host)


def test_ipv6_literals_are_api_hosts_only_when_listed(client, db, settings):
    _assert_refused(client.get("/healthz", HTTP_HOST="[::1]:8000"), "unknown_host", "::1")
    settings.PICPICK_API_HOSTS = ["testserver", "[::1]"]
    assert client.get("/healthz", HTTP_HOST="[::1]:8000").status_code == 200


def test_api_hosts_come_from_settings(client, db, settings):
    assert client.get("/healthz", HTTP_HOST="api.picpick.example").status_code == 400
    settings.PICPICK_API_HOSTS = ["api.picpick.example"]
    assert client.get("/healthz", HTTP_HOST="api.picpick.example").status_code == 200
    assert client.get("/healthz").status_code == 400  # testserver is no longer one


# --- what each kind of host serves --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/studio/", "/api/v1/studio/domains/", "/admin/", "/api/docs/", "/api/schema/"]
)
def test_the_api_admin_and_docs_do_not_exist_on_studio_hosts(
    client, alice_client, studio_a, custom_domain, path
):
    for host in (STUDIO_A_HOST, CUSTOM):
        assert alice_client.get(path, HTTP_HOST=host).status_code == 404, (host, path)
    assert alice_client.get("/api/v1/studio/").status_code == 200  # on the API host


def test_studio_hosts_serve_healthz_and_storage(client, studio_a):
    assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).json() == {"status": "ok"}
    # The local storage's signed object URLs: refused for a bad signature, not "no such page".
    response = client.get("/storage/o/studios/x/y.jpg", HTTP_HOST=STUDIO_A_HOST)
    assert response.status_code in (400, 403)


@pytest.mark.parametrize("path", [ASK, f"{ASK}?domain={STUDIO_A_HOST}", "/internal/"])
def test_internal_paths_do_not_exist_on_studio_hosts(client, studio_a, custom_domain, path):
    for host in (STUDIO_A_HOST, CUSTOM):
        assert client.get(path, HTTP_HOST=host).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/studio/", "/admin/", "/api/docs/", "/storage/o/x"])
def test_internal_hosts_serve_healthz_and_internal_only(client, db, path):
    assert client.get("/healthz", HTTP_HOST="web:8000").status_code == 200
    assert client.get(path, HTTP_HOST="web:8000").status_code == 404


# --- the routing cache ---------------------------------------------------------------------------


def test_a_studio_host_costs_one_query_on_a_miss_and_none_on_a_hit(
    client, studio_a, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 200


def test_a_custom_domain_costs_one_query_on_a_miss_and_none_on_a_hit(
    client, custom_domain, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 200


def test_unknown_hosts_are_cached_briefly(client, db, settings, django_assert_num_queries):
    with django_assert_num_queries(1):
        client.get("/healthz", HTTP_HOST="nobody.example.com")
    with django_assert_num_queries(0):
        assert client.get("/healthz", HTTP_HOST="nobody.example.com").status_code == 400
    assert settings.PICPICK_HOST_NEGATIVE_CACHE_SECONDS < settings.PICPICK_HOST_CACHE_SECONDS


def test_api_internal_and_reserved_hosts_never_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get("/healthz")
        client.get("/healthz", HTTP_HOST="web")
        client.get("/healthz", HTTP_HOST="www.localhost")
        client.get("/healthz", HTTP_HOST="a.b.localhost")


def test_activation_replaces_a_cached_unknown_answer(client, studio_a, alice, fake_dns):
    domain = services.domain_add(studio=studio_a, hostname=CUSTOM, by=alice)
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 400  # cached as unknown
    fake_dns.prove(domain)
    fake_dns.route(domain)
    services.domain_verify_now(domain=domain, by=alice)
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 200


def test_deleting_a_domain_stops_it_at_once(client, alice_client, custom_domain):
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 200  # cached
    assert alice_client.delete(f"/api/v1/studio/domains/{custom_domain.id}/").status_code == 204
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 400


def test_a_slug_change_moves_the_subdomain_at_once(client, alice_client, studio_a):
    assert client.get("/healthz", HTTP_HOST="anna.localhost").status_code == 400  # cached unknown
    assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 200  # cached
    assert alice_client.patch("/api/v1/studio/", {"slug": "anna"}).status_code == 200
    assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 400
    assert client.get("/healthz", HTTP_HOST="anna.localhost").status_code == 200


def test_a_new_studio_replaces_a_cached_unknown_answer(client, db):
    assert client.get("/healthz", HTTP_HOST="newstudio.localhost").status_code == 400
    studio_create(owner=UserFactory(), name="New Studio", slug="newstudio")
    assert client.get("/healthz", HTTP_HOST="newstudio.localhost").status_code == 200


def test_a_staff_delete_in_the_admin_forgets_the_studios_hosts(client, studio_a, custom_domain):
    """Staff delete studio rows in the admin (a cascade through its domains); the admin tells
    domains as the services do, through accounts' STUDIO_CHANGE_HOOKS."""
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 200
    assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 200
    StudioAdmin(Studio, django_admin.site).delete_model(RequestFactory().post("/"), studio_a)
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 400
    assert client.get("/healthz", HTTP_HOST=STUDIO_A_HOST).status_code == 400


def test_invalidation_runs_again_after_the_commit(
    client, custom_domain, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.domain_delete(domain=custom_domain, by=alice)
    assert callbacks, "no invalidation was queued for after the commit"
    # A request that read the old row before the commit cached it in between ...
    from django.core.cache import cache

    from domains.routing import host_cache_key

    cache.set(host_cache_key(CUSTOM), f"{custom_domain.studio_id}|{custom_domain.id}")
    for callback in callbacks:
        callback()
    # ... and the second invalidation drops it.
    assert client.get("/healthz", HTTP_HOST=CUSTOM).status_code == 400


# --- the TLS ask endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (Domain.State.PENDING, 404),
        (Domain.State.VERIFIED, 404),
        (Domain.State.ACTIVE, 200),
        (Domain.State.FAILED, 404),
    ],
)
def test_ask_answers_200_for_active_custom_domains_only(client, studio_a, fake_dns, state, status):
    make_domain(studio_a, CUSTOM, state)
    response = client.get(ASK, {"domain": CUSTOM}, HTTP_HOST="web")
    assert response.status_code == status
    assert fake_dns.queries == []  # never a DNS lookup


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        (STUDIO_A_HOST, 200),
        (STUDIO_B_HOST, 404),  # no such studio here
        ("ANNASMITH.localhost.", 200),
        ("www.localhost", 404),
        ("localhost", 404),
        ("testserver", 404),  # API hosts have their own certificate
        ("web", 404),
        ("nobody.example.com", 404),
        ("not a name", 404),
        ("", 404),
        ("a" * 3000, 404),
    ],
)
def test_ask_for_subdomains_and_everything_else(client, studio_a, domain, status):
    assert client.get(ASK, {"domain": domain}, HTTP_HOST="web").status_code == status


def test_ask_without_a_domain_is_404(client, db):
    assert client.get(ASK, HTTP_HOST="web").status_code == 404


def test_ask_for_a_deleted_studio_is_404(client, studio_a, custom_domain):
    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    assert client.get(ASK, {"domain": STUDIO_A_HOST}, HTTP_HOST="web").status_code == 404
    assert client.get(ASK, {"domain": CUSTOM}, HTTP_HOST="web").status_code == 404


def test_ask_is_served_on_internal_hosts_only(client, custom_domain, studio_a):
    assert client.get(ASK, {"domain": CUSTOM}, HTTP_HOST="web:8000").status_code == 200
    for api_host in ("testserver", "localhost", "127.0.0.1:8000"):
        response = client.get(ASK, {"domain": CUSTOM}, HTTP_HOST=api_host)
        assert response.status_code == 404, api_host
        assert response.json()["error"]["code"] == "not_found"
        assert client.get("/internal/", HTTP_HOST=api_host).status_code == 404


def test_ask_costs_one_query_on_a_miss_and_none_on_a_hit(
    client, custom_domain, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert client.get(ASK, {"domain": CUSTOM}, HTTP_HOST="web").status_code == 200
    with django_assert_num_queries(0):
        assert client.get(ASK, {"domain": CUSTOM}, HTTP_HOST="web").status_code == 200


def test_ask_only_answers_get(client, custom_domain):
    assert client.post(ASK + f"?domain={CUSTOM}", HTTP_HOST="web").status_code == 405


# --- site URLs and the studio of a site ---------------------------------------------------------


def test_site_url_is_the_subdomain_by_default(studio_a):
    assert selectors.studio_site_url(studio=studio_a) == "https://annasmith.localhost"


def test_site_url_follows_the_active_primary_domain(studio_a):
    domain = make_domain(studio_a, CUSTOM, Domain.State.ACTIVE, is_primary=True)
    make_domain(studio_a, "annasmith.com", Domain.State.ACTIVE)
    assert selectors.studio_site_url(studio=studio_a) == "https://photos.annasmith.com"
    Domain.objects.filter(pk=domain.pk).update(state=Domain.State.FAILED, held_hostname=None)
    assert selectors.studio_site_url(studio=studio_a) == "https://annasmith.localhost"


@pytest.mark.parametrize(
    ("scheme", "port", "expected"),
    [
        ("http", 8000, "http://annasmith.localhost:8000"),
        ("http", 80, "http://annasmith.localhost"),
        ("https", 443, "https://annasmith.localhost"),
        ("https", 8443, "https://annasmith.localhost:8443"),
        ("https", None, "https://annasmith.localhost"),
    ],
)
def test_site_url_scheme_and_port_come_from_settings(studio_a, settings, scheme, port, expected):
    settings.PICPICK_SITE_SCHEME = scheme
    settings.PICPICK_SITE_PORT = port
    assert selectors.studio_site_url(studio=studio_a) == expected


def test_site_url_never_comes_from_the_request(studio_a, settings):
    settings.PICPICK_BASE_DOMAIN = "picpick.example"
    _site_of("annasmith.picpick.example:9999")
    assert selectors.studio_site_url(studio=studio_a) == "https://annasmith.picpick.example"


def test_studio_for_site(studio_a, custom_domain, django_assert_num_queries):
    _, request = _site_of(CUSTOM)
    with django_assert_num_queries(1):
        assert selectors.studio_for_site(site=request.site) == studio_a
        assert selectors.studio_for_site(site=request.site) == studio_a  # memoised per request
    assert selectors.studio_for_site(site=Site(kind="api", host="testserver")) is None
    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    stale = Site(kind="studio", host=CUSTOM, studio_id=studio_a.id, domain_id=custom_domain.id)
    assert selectors.studio_for_site(site=stale) is None


# --- HSTS ----------------------------------------------------------------------------------------


@pytest.fixture
def hsts(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def test_custom_domains_get_hsts_without_subdomains_or_preload(client, custom_domain, hsts):
    response = client.get("/healthz", HTTP_HOST=CUSTOM, secure=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_our_hosts_keep_the_full_hsts_header(client, studio_a, hsts):
    for host in ("testserver", STUDIO_A_HOST):
        response = client.get("/healthz", HTTP_HOST=host, secure=True)
        assert response.headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )


def test_every_log_line_of_a_studio_sites_request_names_the_studio(studio_a):
    def view(request):
        logging.getLogger("guests.pages").info("a line written while the page is drawn")
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_HOST=STUDIO_A_HOST)
    with capture_lines() as lines, context.bound(request_id="studio-site-0001"):
        HostRoutingMiddleware(view)(request)
    [line] = [json.loads(text) for text in lines]
    assert line["studio_id"] == str(studio_a.id)
    assert line["request_id"] == "studio-site-0001"
