"""Who may open a gallery through the guest API: public, password and PIN galleries, gallery
tokens, links, expiry, registration, the studio of the domain, and CSRF on studio sites."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from galleries import services as gallery_services
from galleries.models import DownloadJob, Gallery
from guests import access
from guests.models import Visitor
from tests.domains.conftest import make_domain
from tests.guests.api_support import (
    OPEN_URL,
    PIN,
    STUDIO_A_HOST,
    STUDIO_B_HOST,
    error_code,
    guest,
    protect,
    public_url,
    register,
    secret_of,
    unlock,
)

pytest_plugins = ["tests.guests.api_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

PROTECTED = [Gallery.Access.PASSWORD, Gallery.Access.PIN]


# --- Every guest endpoint -----------------------------------------------------------------------
# (name, method, path under the gallery, body, status with a valid grant and no visitor)
ENDPOINTS = [
    ("detail", "get", "", None, 200),
    ("photos", "get", "photos/", None, 200),
    ("favourites", "get", "favourites/", None, 200),
    ("favourite_list_create", "post", "favourites/", {"name": "Best"}, 403),
    ("favourite_set", "put", "favourites/photos/{photo}/", {"comment": "yes"}, 403),
    ("favourite_remove", "delete", "favourites/photos/{photo}/", None, 403),
    ("register", "post", "register/", {"email": "guest@example.com"}, 200),
    ("downloads_unlock", "post", "downloads/unlock/", {"pin": "1234"}, 200),
    ("photo_download", "get", "photos/{photo}/download/", None, 200),
    ("zip_request", "post", "downloads/", {"size": "web"}, 202),
    ("zip_get", "get", "downloads/{job}/", None, 404),
]
SELFIE_ENDPOINTS = [("selfie_search", "selfie-search/"), ("hide_me", "hide-me/")]


def call(client: APIClient, gallery, endpoint, photo, **extra):
    _name, method, suffix, body, _status = endpoint
    path = public_url(gallery, suffix.format(photo=photo.id, job=uuid.uuid4()))
    if body is None:
        return getattr(client, method)(path, **extra)
    return getattr(client, method)(path, body, format="json", **extra)


def post_selfie(client: APIClient, gallery, suffix: str, **extra):
    upload = SimpleUploadedFile("selfie.jpg", b"not a photo", content_type="image/jpeg")
    return client.post(public_url(gallery, suffix), {"selfie": upload}, format="multipart", **extra)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("mode", PROTECTED)
def test_every_guest_endpoint_of_a_locked_gallery_is_403_gallery_locked(
    gallery_a, photos_a, endpoint, mode
):
    protect(gallery_a, mode)
    response = call(guest(), gallery_a, endpoint, photos_a[0])
    assert response.status_code == 403, response.content
    body = response.json()["error"]
    assert body["code"] == "gallery_locked"
    if endpoint[0] != "register":
        assert body["access"] == mode
    assert Visitor.objects.count() == 0 and DownloadJob.objects.count() == 0


@pytest.mark.parametrize("suffix", [s for _, s in SELFIE_ENDPOINTS], ids=["selfie", "hide_me"])
@pytest.mark.parametrize("mode", PROTECTED)
def test_selfie_search_and_hide_me_of_a_locked_gallery_are_403_gallery_locked(
    gallery_a, mode, suffix
):
    protect(gallery_a, mode)
    response = post_selfie(guest(), gallery_a, suffix)
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("mode", PROTECTED)
def test_every_guest_endpoint_works_with_the_gallery_token(gallery_a, photos_a, endpoint, mode):
    protect(gallery_a, mode)
    token = unlock(guest(), gallery_a, secret_of(mode))
    response = call(guest(token), gallery_a, endpoint, photos_a[0])
    assert response.status_code == endpoint[4], response.content
    if response.status_code == 403:
        assert error_code(response) == "email_required"  # not locked: favourites need an email
    if response.status_code == 404:
        assert error_code(response) == "not_found"  # no such ZIP job: the gallery opened


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_every_guest_endpoint_of_a_public_gallery_works_without_a_token(
    gallery_a, photos_a, endpoint
):
    response = call(guest(), gallery_a, endpoint, photos_a[0])
    assert response.status_code == endpoint[4], response.content


# --- Unlocking and tokens -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", PROTECTED)
def test_a_wrong_secret_is_403_wrong_secret_and_gives_no_token(gallery_a, mode):
    protect(gallery_a, mode)
    for wrong in ("1357", "not the password", secret_of(mode).upper() + "0"):
        response = guest().post(public_url(gallery_a, "unlock/"), {"secret": wrong})
        assert response.status_code == 403
        assert error_code(response) == f"wrong_{mode}"
        assert "token" not in response.json()
        assert not response.cookies


@pytest.mark.parametrize("body", [{}, {"secret": ""}, {"secret": "x" * 129}, {"pin": PIN}])
def test_unlock_without_a_usable_secret_is_400(gallery_a, body):
    protect(gallery_a, Gallery.Access.PIN)
    response = guest().post(public_url(gallery_a, "unlock/"), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")


@pytest.mark.parametrize("mode", PROTECTED)
def test_the_right_secret_gives_a_token_that_opens_the_gallery(gallery_a, photos_a, mode):
    protect(gallery_a, mode)
    before = timezone.now()
    response = guest().post(public_url(gallery_a, "unlock/"), {"secret": secret_of(mode)})
    assert response.status_code == 200
    body = response.json()
    assert body["gallery"]["id"] == str(gallery_a.id) and body["gallery"]["access"] == mode
    expires_at = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    lifetime = dt.timedelta(hours=settings.PICPICK_GUEST_TOKEN_HOURS)
    assert before + lifetime - dt.timedelta(minutes=1) < expires_at <= timezone.now() + lifetime
    assert not response.cookies  # the API host keeps no cookie: the apps send the header
    grant = access.load(body["token"])
    assert grant == access.Grant(gallery_id=gallery_a.id, access_version=gallery_a.access_version)

    photos = guest(body["token"]).get(public_url(gallery_a, "photos/"))
    assert photos.status_code == 200
    assert [p["id"] for p in photos.json()["results"]] == [str(p.id) for p in photos_a]


def test_a_token_of_one_gallery_does_not_open_another(gallery_a, gallery_a2):
    protect(gallery_a, Gallery.Access.PIN)
    protect(gallery_a2, Gallery.Access.PIN)  # the same PIN
    token = unlock(guest(), gallery_a, PIN)
    response = guest(token).get(public_url(gallery_a2))
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")
    assert guest(token).get(public_url(gallery_a)).status_code == 200


def _tampered(token: str) -> str:
    value, _, signature = token.rpartition(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return f"{value}:{flipped}"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_tampered, id="signature-changed"),
        pytest.param(lambda t: t[:-5], id="truncated"),
        pytest.param(lambda t: "garbage", id="garbage"),
        pytest.param(lambda t: "x" * 600, id="too-long"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(
            lambda t: signing.dumps(signing.loads(t, salt="guests.grant")), id="other-salt"
        ),
        pytest.param(
            lambda t: signing.dumps({"g": "zz", "v": 1}, salt="guests.grant"), id="bad-payload"
        ),
    ],
)
def test_a_forged_or_garbage_token_does_not_open_a_locked_gallery(gallery_a, make):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(guest(), gallery_a, PIN)
    response = guest(make(token)).get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")


def test_a_token_signed_for_this_gallery_with_a_forged_version_does_not_open_it(gallery_a):
    protect(gallery_a, Gallery.Access.PIN)
    forged = access.dump(access.Grant(gallery_id=gallery_a.id, access_version=99))
    response = guest(forged).get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")


def test_an_expired_token_does_not_open_the_gallery(gallery_a, monkeypatch):
    protect(gallery_a, Gallery.Access.PIN)
    issued = time.time() - settings.PICPICK_GUEST_TOKEN_HOURS * 3600 - 5
    with monkeypatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: issued)
        old = access.dump(access.Grant(gallery_id=gallery_a.id, access_version=2))
    fresh = unlock(guest(), gallery_a, PIN)
    assert access.load(fresh).access_version == 2  # the same grant, only older
    response = guest(old).get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")
    assert guest(fresh).get(public_url(gallery_a)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"access": "pin", "secret": "97531"},
        {"secret": "97531"},
        {"access": "password", "secret": "a new password"},
        {"access": "public"},
    ],
)
def test_changing_the_pin_or_the_access_logs_every_guest_out(gallery_a, alice_client, change):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(guest(), gallery_a, PIN)
    registered = register(guest(), gallery_a, "anna@example.com", token=token).json()["token"]
    assert guest(registered).get(public_url(gallery_a)).status_code == 200

    response = alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/guest-access/", change, format="json"
    )
    assert response.status_code == 200, response.json()
    gallery_a.refresh_from_db()
    assert gallery_a.access_version == 3
    for old in (token, registered):
        after = guest(old).get(public_url(gallery_a))
        if change.get("access") == "public":
            # Anyone opens a public gallery, but the old grant (with its visitor) is gone.
            assert after.status_code == 200 and after.json()["visitor"] is None
        else:
            assert (after.status_code, error_code(after)) == (403, "gallery_locked")
    if "secret" in change:
        wrong = guest().post(public_url(gallery_a, "unlock/"), {"secret": PIN})
        assert wrong.status_code == 403  # the old PIN is no longer the secret
        assert (
            guest(unlock(guest(), gallery_a, change["secret"]))
            .get(public_url(gallery_a))
            .status_code
            == 200
        )


def test_changing_other_guest_settings_keeps_the_tokens(gallery_a, alice_client):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(guest(), gallery_a, PIN)
    response = alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/guest-access/",
        {"listed": False, "download_sizes": ["original"], "access": "pin"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    gallery_a.refresh_from_db()
    assert gallery_a.access_version == 2
    assert guest(token).get(public_url(gallery_a)).status_code == 200


# --- Opening by link or id ------------------------------------------------------------------------
def test_open_by_the_link_the_studio_shares(gallery_a, photos_a, alice_client):
    link = alice_client.get(f"/api/v1/galleries/{gallery_a.id}/guest-access/").json()["guest_url"]
    assert link == f"https://{STUDIO_A_HOST}/g/smith-wedding"
    response = guest().post(OPEN_URL, {"url": link})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["gallery"]["id"] == str(gallery_a.id)
    assert body["gallery"]["studio"] == {"name": "Anna Smith Photography"}
    assert body["gallery"]["photo_count"] == 3
    assert guest(body["token"]).get(public_url(gallery_a, "photos/")).status_code == 200


@pytest.mark.parametrize(
    "link",
    [
        "http://annasmith.localhost:8000/g/smith-wedding/",
        "https://ANNASMITH.localhost/g/smith-wedding?utm_source=mail#top",
        "https://annasmith.localhost/g/smith-wedding/unlock/",
    ],
)
def test_open_by_link_accepts_ports_queries_and_longer_paths(gallery_a, link):
    response = guest().post(OPEN_URL, {"url": link})
    assert response.status_code == 200, response.json()
    assert response.json()["gallery"]["id"] == str(gallery_a.id)


def test_open_by_a_custom_domain_link(gallery_a, studio_a):
    make_domain(studio_a, "photos.annasmith.com", "active")
    response = guest().post(OPEN_URL, {"url": "https://photos.annasmith.com/g/smith-wedding"})
    assert response.status_code == 200, response.json()
    assert response.json()["gallery"]["id"] == str(gallery_a.id)


@pytest.mark.parametrize(
    "link",
    [
        "https://nobody.localhost/g/smith-wedding",  # no such studio
        "https://annasmith.localhost/x/smith-wedding",  # not a gallery path
        "https://annasmith.localhost/g/no-such-gallery",
        "https://annasmith.localhost/",
        "https://annasmith.localhost/g/",
        "https://localhost/g/smith-wedding",  # the API host is no studio's site
        "https://bobsweddings.localhost/g/smith-wedding",  # another studio's site
        "https://photos.elsewhere.example/g/smith-wedding",  # nobody's domain
        "https://api.localhost/g/smith-wedding",  # a reserved name
    ],
)
def test_open_by_a_link_that_is_not_a_gallery_here_is_404(gallery_a, gallery_b, link):
    response = guest().post(OPEN_URL, {"url": link})
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_open_by_gallery_id(gallery_a, gallery_b):
    for gallery in (gallery_a, gallery_b):  # the API host opens any studio's gallery
        response = guest().post(OPEN_URL, {"gallery_id": str(gallery.id)})
        assert response.status_code == 200
        assert response.json()["gallery"]["id"] == str(gallery.id)
    response = guest().post(OPEN_URL, {"gallery_id": str(uuid.uuid4())})
    assert (response.status_code, error_code(response)) == (404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "not a url"},
        {"gallery_id": "not-a-uuid"},
        {"url": "https://annasmith.localhost/g/smith-wedding", "extra": 1},
        {"url": "https://annasmith.localhost/g/" + "x" * 2000},
    ],
)
def test_open_with_bad_input_is_400(gallery_a, body):
    response = guest().post(OPEN_URL, body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")


@pytest.mark.parametrize("mode", PROTECTED)
def test_open_a_protected_gallery_by_link(gallery_a, mode):
    protect(gallery_a, mode)
    link = f"https://{STUDIO_A_HOST}/g/smith-wedding"
    locked = guest().post(OPEN_URL, {"url": link})
    assert (locked.status_code, error_code(locked)) == (403, "gallery_locked")
    assert locked.json()["error"]["access"] == mode
    wrong = guest().post(OPEN_URL, {"url": link, "secret": "0000-wrong"})
    assert (wrong.status_code, error_code(wrong)) == (403, f"wrong_{mode}")
    right = guest().post(OPEN_URL, {"url": link, "secret": secret_of(mode)})
    assert right.status_code == 200
    assert guest(right.json()["token"]).get(public_url(gallery_a)).status_code == 200


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_draft_and_archived_galleries_are_404_to_guests(studio_a, alice, status):
    gallery = gallery_services.gallery_create(
        studio=studio_a, by=alice, name="Not out", slug="not-out"
    )
    if status == "archived":
        gallery_services.gallery_archive(gallery=gallery, by=alice)
    for response in (
        guest().get(public_url(gallery)),
        guest().get(public_url(gallery, "photos/")),
        guest().post(public_url(gallery, "unlock/"), {"secret": PIN}),
        guest().post(OPEN_URL, {"gallery_id": str(gallery.id)}),
        guest().post(OPEN_URL, {"url": f"https://{STUDIO_A_HOST}/g/not-out"}),
        guest().get(public_url(gallery), HTTP_HOST=STUDIO_A_HOST),
    ):
        assert (response.status_code, error_code(response)) == (404, "not_found")


def test_a_gallery_of_a_deleted_studio_is_404(gallery_a, studio_a):
    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    response = guest().get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_garbage_gallery_ids_are_404(db):
    assert guest().get("/api/v1/public/galleries/not-a-uuid/").status_code == 404
    response = guest().get(public_url(uuid.uuid4()))
    assert (response.status_code, error_code(response)) == (404, "not_found")


# --- Expiry -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["public", "pin"])
def test_an_expired_gallery_is_410_until_the_studio_extends_it(
    gallery_a, photos_a, alice_client, mode
):
    if mode == "pin":
        protect(gallery_a, Gallery.Access.PIN)
        token = unlock(guest(), gallery_a, PIN)
    else:
        token = None
    gallery_a.expires_at = timezone.now() - dt.timedelta(minutes=1)
    gallery_a.save(update_fields=["expires_at"])

    for response in (
        guest(token).get(public_url(gallery_a)),
        guest(token).get(public_url(gallery_a, "photos/")),
        guest(token).get(public_url(gallery_a, f"photos/{photos_a[0].id}/download/")),
        guest(token).post(public_url(gallery_a, "register/"), {"email": "a@example.com"}),
        guest().post(public_url(gallery_a, "unlock/"), {"secret": PIN}),
        guest().post(OPEN_URL, {"gallery_id": str(gallery_a.id)}),
        guest().post(OPEN_URL, {"url": f"https://{STUDIO_A_HOST}/g/smith-wedding"}),
    ):
        assert response.status_code == 410, response.content
        body = response.json()["error"]
        assert body["code"] == "gallery_expired"
        assert body["studio"] == "Anna Smith Photography"
    assert Visitor.objects.count() == 0

    extended = timezone.now() + dt.timedelta(days=30)
    response = alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/",
        {"expires_at": extended.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert guest(token).get(public_url(gallery_a)).status_code == 200
    assert len(guest(token).get(public_url(gallery_a, "photos/")).json()["results"]) == 3


def test_a_wrong_pin_on_an_expired_gallery_is_410_and_costs_no_attempt(gallery_a, settings):
    settings.PICPICK_GUEST_UNLOCK_ATTEMPTS = 1
    protect(gallery_a, Gallery.Access.PIN)
    gallery_a.expires_at = timezone.now() - dt.timedelta(minutes=1)
    gallery_a.save(update_fields=["expires_at"])
    for _ in range(3):
        response = guest().post(public_url(gallery_a, "unlock/"), {"secret": "0000"})
        assert response.status_code == 410
    gallery_a.expires_at = None
    gallery_a.save(update_fields=["expires_at"])
    assert guest().post(public_url(gallery_a, "unlock/"), {"secret": PIN}).status_code == 200


# --- Registration -------------------------------------------------------------------------------
def test_registration_required_is_403_until_the_guest_gives_an_email(gallery_a, photos_a):
    protect(gallery_a, Gallery.Access.PUBLIC, require_registration=True)
    for path in ("", "photos/", f"photos/{photos_a[0].id}/download/", "favourites/"):
        response = guest().get(public_url(gallery_a, path))
        assert (response.status_code, error_code(response)) == (403, "registration_required")

    response = register(guest(), gallery_a, "Anna@Example.com")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["gallery"]["visitor"] == {"email": "anna@example.com", "name": "Guest"}
    client = guest(body["token"])
    assert client.get(public_url(gallery_a)).status_code == 200
    assert len(client.get(public_url(gallery_a, "photos/")).json()["results"]) == 3


def test_a_pin_gallery_with_registration_needs_the_pin_then_the_email(gallery_a):
    protect(gallery_a, Gallery.Access.PIN, require_registration=True)
    response = register(guest(), gallery_a, "anna@example.com")
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")
    assert Visitor.objects.count() == 0

    token = unlock(guest(), gallery_a, PIN)
    response = guest(token).get(public_url(gallery_a))
    assert (response.status_code, error_code(response)) == (403, "registration_required")
    registered = register(guest(), gallery_a, "anna@example.com", token=token)
    assert registered.status_code == 200
    assert guest(registered.json()["token"]).get(public_url(gallery_a)).status_code == 200

    # Unlocking again keeps the visitor the guest registered as.
    again = guest(registered.json()["token"]).post(
        public_url(gallery_a, "unlock/"), {"secret": PIN}
    )
    assert again.status_code == 200
    assert again.json()["gallery"]["visitor"]["email"] == "anna@example.com"
    assert guest(again.json()["token"]).get(public_url(gallery_a)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not-an-email"}, {"email": "a@example.com", "name": "x" * 121}, {"mail": "a"}],
)
def test_register_with_bad_input_is_400_and_stores_nothing(gallery_a, body):
    response = guest().post(public_url(gallery_a, "register/"), body, format="json")
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert Visitor.objects.count() == 0


# --- The studio of the domain -------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_a_gallery_of_studio_a_on_studio_b_s_domain_is_404(
    gallery_a, gallery_b, photos_a, endpoint
):
    response = call(guest(), gallery_a, endpoint, photos_a[0], HTTP_HOST=STUDIO_B_HOST)
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert Visitor.objects.count() == 0 and DownloadJob.objects.count() == 0

    on_own = call(guest(), gallery_a, endpoint, photos_a[0], HTTP_HOST=STUDIO_A_HOST)
    assert on_own.status_code == endpoint[4], on_own.content


@pytest.mark.parametrize("suffix", [s for _, s in SELFIE_ENDPOINTS], ids=["selfie", "hide_me"])
def test_selfie_endpoints_of_studio_a_on_studio_b_s_domain_are_404(gallery_a, gallery_b, suffix):
    response = post_selfie(guest(), gallery_a, suffix, HTTP_HOST=STUDIO_B_HOST)
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_studio_hosts_open_their_own_galleries_and_the_api_host_opens_any(gallery_a, gallery_b):
    assert guest().get(public_url(gallery_a), HTTP_HOST=STUDIO_A_HOST).status_code == 200
    assert guest().get(public_url(gallery_b), HTTP_HOST=STUDIO_B_HOST).status_code == 200
    assert guest().get(public_url(gallery_b), HTTP_HOST=STUDIO_A_HOST).status_code == 404
    assert guest().get(public_url(gallery_a)).status_code == 200
    assert guest().get(public_url(gallery_b)).status_code == 200


def test_open_on_a_studio_host(gallery_a, gallery_b):
    link_a = f"https://{STUDIO_A_HOST}/g/smith-wedding"
    on_b = guest().post(OPEN_URL, {"url": link_a}, HTTP_HOST=STUDIO_B_HOST)
    assert (on_b.status_code, error_code(on_b)) == (404, "not_found")
    by_id_on_b = guest().post(OPEN_URL, {"gallery_id": str(gallery_a.id)}, HTTP_HOST=STUDIO_B_HOST)
    assert (by_id_on_b.status_code, error_code(by_id_on_b)) == (404, "not_found")
    on_a = guest().post(OPEN_URL, {"url": link_a}, HTTP_HOST=STUDIO_A_HOST)
    assert on_a.status_code == 200
    assert on_a.json()["gallery"]["id"] == str(gallery_a.id)


def test_a_token_of_studio_a_does_not_open_its_gallery_on_studio_b_s_domain(gallery_a, gallery_b):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(guest(), gallery_a, PIN)
    response = guest(token).get(public_url(gallery_a), HTTP_HOST=STUDIO_B_HOST)
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_an_unknown_host_is_refused_before_any_gallery_lookup(gallery_a):
    response = guest().get(public_url(gallery_a), HTTP_HOST="nobody.localhost")
    assert (response.status_code, error_code(response)) == (400, "unknown_host")


# --- Cookies and CSRF on studio sites -----------------------------------------------------------
@pytest.fixture
def browser() -> APIClient:
    """A browser on the studio's site: cookies kept, CSRF enforced as for real."""
    return APIClient(enforce_csrf_checks=True, HTTP_HOST=STUDIO_A_HOST)


def test_unlocking_on_a_studio_site_keeps_the_grant_in_an_httponly_cookie(gallery_a, browser):
    protect(gallery_a, Gallery.Access.PIN)
    response = browser.post(public_url(gallery_a, "unlock/"), {"secret": PIN})
    assert response.status_code == 200
    cookie = response.cookies[access.cookie_name(gallery_a.id)]
    assert cookie.value == response.json()["token"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.PICPICK_GUEST_TOKEN_HOURS * 3600
    # Safe requests need nothing more than the cookie.
    assert browser.get(public_url(gallery_a)).status_code == 200
    assert browser.get(public_url(gallery_a, "photos/")).status_code == 200


def test_an_unsafe_request_with_the_grant_cookie_and_no_csrf_token_is_403(gallery_a, browser):
    protect(gallery_a, Gallery.Access.PIN)
    token = unlock(browser, gallery_a, PIN)
    response = browser.post(public_url(gallery_a, "register/"), {"email": "anna@example.com"})
    assert (response.status_code, error_code(response)) == (403, "csrf_failed")
    assert Visitor.objects.count() == 0

    # With the CSRF cookie and its token in the header, the same request passes.
    csrf = get_random_string(32)
    browser.cookies[settings.CSRF_COOKIE_NAME] = csrf
    wrong = browser.post(
        public_url(gallery_a, "register/"),
        {"email": "anna@example.com"},
        HTTP_X_CSRFTOKEN=get_random_string(32),
    )
    assert (wrong.status_code, error_code(wrong)) == (403, "csrf_failed")
    response = browser.post(
        public_url(gallery_a, "register/"), {"email": "anna@example.com"}, HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 200, response.json()
    assert Visitor.objects.count() == 1

    # The apps' header token needs no CSRF token (a header is not sent by another site).
    app = APIClient(enforce_csrf_checks=True, HTTP_HOST=STUDIO_A_HOST)
    app.cookies = browser.cookies  # even with the cookie present, the header decides
    del app.cookies[settings.CSRF_COOKIE_NAME]
    response = app.post(
        public_url(gallery_a, "register/"),
        {"email": "bert@example.com"},
        HTTP_X_GALLERY_TOKEN=token,
    )
    assert response.status_code == 200, response.json()
    assert Visitor.objects.count() == 2


def test_a_cross_site_origin_is_refused_with_the_cookie(gallery_a, browser):
    protect(gallery_a, Gallery.Access.PIN)
    unlock(browser, gallery_a, PIN)
    csrf = get_random_string(32)
    browser.cookies[settings.CSRF_COOKIE_NAME] = csrf
    response = browser.post(
        public_url(gallery_a, "register/"),
        {"email": "anna@example.com"},
        HTTP_X_CSRFTOKEN=csrf,
        HTTP_ORIGIN="https://evil.example",
    )
    assert (response.status_code, error_code(response)) == (403, "csrf_failed")


def test_a_cookie_of_another_gallery_does_not_open_this_one(gallery_a, gallery_a2, browser):
    protect(gallery_a, Gallery.Access.PIN)
    protect(gallery_a2, Gallery.Access.PIN)
    token = unlock(browser, gallery_a, PIN)
    browser.cookies[access.cookie_name(gallery_a2.id)] = token  # copied under the other name
    response = browser.get(public_url(gallery_a2))
    assert (response.status_code, error_code(response)) == (403, "gallery_locked")
