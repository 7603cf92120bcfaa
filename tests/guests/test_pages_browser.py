"""The guest pages in a real headless Chromium (Debian's package and its chromedriver; no
browser download), reaching the live server under a studio's custom domain through
``--host-resolver-rules``: PIN, viewer, favourite, selfie search, download.

Screenshots of each step are kept as test artefacts in ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domains.models import Domain
from galleries.models import Gallery
from galleries.services.access import gallery_guest_access_update
from guests.models import Favourite, Visitor
from picpick.core.storage import get_storage
from picpick.testing.factories import DomainFactory
from picpick.testing.scenes import faces_dir
from tests.browser import chromium, needs_chromium, shot, wait_for
from tests.faces_search.conftest import build_shared_gallery, shared_faces  # noqa: F401

HOST = "photos.annasmith.test"
PIN = "2468"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def browser(tmp_path, live_server):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(hosts=[HOST], downloads=downloads)
    driver.site = f"http://{HOST}:{live_server.url.rsplit(':', 1)[1]}"
    driver.downloads = downloads
    yield driver
    driver.quit()


def _jpeg(file: str, long_edge: int) -> bytes:
    image = Image.open(faces_dir() / file).convert("RGB")
    image.thumbnail((long_edge, long_edge))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def pin_gallery(studio_a, shared_faces, local_storage):  # noqa: F811
    shared = build_shared_gallery(studio_a, shared_faces)
    gallery = shared.gallery
    Gallery.objects.filter(id=gallery.id).update(slug="smith-wedding", name="Smith Wedding")
    gallery.refresh_from_db()
    gallery_guest_access_update(
        gallery=gallery, changes={"access": "pin", "secret": PIN, "download_sizes": ["web"]}
    )
    storage = get_storage()
    for file, photo in shared.photo_of_file.items():
        for name, edge in (("thumb", 400), ("preview", 1200), ("preview_wm", 1200)):
            storage.put_object(
                key=photo.derivatives[name]["key"],
                body=_jpeg(file, edge),
                content_type="image/jpeg",
            )
    DomainFactory(studio=studio_a, hostname=HOST, state=Domain.State.ACTIVE)
    return shared


def test_a_guest_opens_a_pin_gallery_favourites_finds_themselves_and_downloads(
    browser,
    pin_gallery,
    shared_faces,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    gallery = pin_gallery.gallery
    browser.get(f"{browser.site}/g/{gallery.slug}/")
    assert "Enter the gallery PIN" in browser.page_source
    shot(browser, "01-pin")

    # A wrong PIN: an error, still locked.
    browser.find_element(By.ID, "secret").send_keys("0000", Keys.ENTER)
    wait_for(lambda: browser.find_elements(By.ID, "gate-error"), message="the PIN error")
    assert "Wrong pin" in browser.find_element(By.ID, "gate-error").text
    shot(browser, "02-wrong-pin")

    # The right PIN: the grid fills with every photo.
    browser.find_element(By.ID, "secret").send_keys(PIN, Keys.ENTER)
    photo_count = len(pin_gallery.photo_of_file)
    tiles = wait_for(
        lambda: (
            (t := browser.find_elements(By.CSS_SELECTOR, "#grid .tile"))
            and len(t) == photo_count
            and t
        ),
        message="the grid",
    )
    wait_for(
        lambda: browser.execute_script(
            "return [...document.querySelectorAll('#grid img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        ),
        message="thumbnails to load",
    )
    shot(browser, "03-grid")

    # The viewer: a preview, keyboard navigation.
    tiles[0].click()
    wait_for(
        lambda: browser.execute_script(
            "const i = document.getElementById('viewer-img');"
            "return i.complete && i.naturalWidth > 0"
        ),
        message="the preview",
    )
    assert browser.find_element(By.ID, "viewer-caption").text == f"1 / {photo_count}"
    browser.find_element(By.ID, "viewer").send_keys(Keys.ARROW_RIGHT)
    wait_for(
        lambda: browser.find_element(By.ID, "viewer-caption").text == f"2 / {photo_count}",
        message="the next photo",
    )
    shot(browser, "04-viewer")

    # Favourite: the guest gives an email first, then the photo is kept.
    browser.find_element(By.ID, "viewer-fav").click()
    wait_for(lambda: browser.find_element(By.ID, "fav-email").is_displayed(), message="email")
    browser.find_element(By.ID, "fav-email").send_keys("guest@example.com", Keys.ENTER)
    wait_for(
        lambda: browser.find_element(By.ID, "viewer-fav").get_attribute("aria-pressed") == "true",
        message="the favourite",
    )
    second = browser.find_elements(By.CSS_SELECTOR, "#grid .tile")[1].get_attribute("data-photo")
    assert Visitor.objects.filter(gallery=gallery, email="guest@example.com").exists()
    assert list(Favourite.objects.values_list("photo_id", flat=True)) == [
        __import__("uuid").UUID(second)
    ]
    shot(browser, "05-favourite")

    # Download: the link gives the file.
    link = browser.find_element(By.CSS_SELECTOR, "#viewer-downloads a.download")
    link.click()
    downloaded = wait_for(
        lambda: [p for p in browser.downloads.iterdir() if p.suffix == ".jpg"],
        message="the downloaded photo",
    )
    assert downloaded[0].read_bytes()[:3] == b"\xff\xd8\xff"
    browser.find_element(By.ID, "viewer-close").click()

    # Selfie search: exactly the photos of that person.
    browser.find_element(By.ID, "open-selfie").click()
    selfie = faces_dir() / "obama" / "obama1.jpg"
    browser.find_element(By.ID, "selfie").send_keys(str(selfie))
    shot(browser, "06-selfie")
    browser.find_element(By.ID, "selfie-search").click()
    wait_for(
        lambda: "We found you" in browser.find_element(By.ID, "status").text, message="results"
    )
    found = {
        t.get_attribute("data-photo") for t in browser.find_elements(By.CSS_SELECTOR, "#grid .tile")
    }
    expected = {str(pid) for pid in pin_gallery.photo_ids_of("obama", shared_faces)}
    assert found == expected
    shot(browser, "07-selfie-results")


def test_a_gallery_of_another_studio_is_not_found_on_this_domain(browser, pin_gallery, studio_b):
    from picpick.testing.factories import GalleryFactory

    other = GalleryFactory(studio=studio_b, status=Gallery.Status.PUBLISHED, slug="bobs-party")
    browser.get(f"{browser.site}/g/{other.slug}/")
    assert "Not found" in browser.page_source
    browser.get(f"{browser.site}/")
    assert "Anna Smith Photography" in browser.page_source
    shot(browser, "08-home")


def test_the_status_and_viewer_count_the_whole_gallery_not_the_loaded_page(
    browser, studio_a, alice, local_storage
):
    from selenium.webdriver.common.by import By

    from galleries import services as gallery_services
    from tests.delivery.conftest import stored_photo

    gallery = gallery_services.gallery_create(
        studio=studio_a, by=alice, name="Big Day", slug="big-day"
    )
    gallery_services.gallery_publish(gallery=gallery, by=alice)
    for number in range(75):  # the grid loads 60 at a time
        stored_photo(local_storage, gallery, alice, filename=f"IMG_{number:04d}.jpg")
    DomainFactory(studio=studio_a, hostname=HOST, state=Domain.State.ACTIVE)
    browser.get(f"{browser.site}/g/{gallery.slug}/")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#grid .tile"), message="the grid")
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: status.text == "75 photos", message=f"the count, not {status.text!r}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grid .tile")) == 60  # one page so far
    browser.find_elements(By.CSS_SELECTOR, "#grid .tile")[0].click()
    caption = browser.find_element(By.ID, "viewer-caption")
    wait_for(lambda: caption.text == "1 / 75", message=f"the caption, not {caption.text!r}")
