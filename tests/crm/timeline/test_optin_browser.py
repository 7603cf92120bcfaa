"""The guest page's marketing opt-in in a real headless Chromium on the studio's domain: a
guest registers with the box ticked and becomes a contact on the wedding's job; one who leaves
it unticked does not."""

from __future__ import annotations

import pytest

from crm.models import Contact, JobContact
from domains.models import Domain
from galleries.models import Gallery
from galleries.services.access import gallery_guest_access_update
from guests.models import Visitor
from picpick.testing.factories import (
    DomainFactory,
    GalleryFactory,
    JobFactory,
    JobGalleryFactory,
    StageFactory,
)
from tests.browser import needs_chromium, shot, wait_for
from tests.guests.test_pages_browser import HOST, browser  # noqa: F401  (the browser fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def wedding(studio_a):
    gallery = GalleryFactory(
        studio=studio_a, name="Smith Wedding", slug="smith-wedding", status=Gallery.Status.PUBLISHED
    )
    gallery_guest_access_update(
        gallery=gallery, changes={"access": "public", "require_registration": True}
    )
    job = JobFactory(stage=StageFactory(pipeline__studio=studio_a), name="Smith wedding")
    JobGalleryFactory(job=job, gallery=gallery)
    DomainFactory(studio=studio_a, hostname=HOST, state=Domain.State.ACTIVE)
    return gallery, job


def register(driver, gallery, email: str, *, opt_in: bool) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{driver.site}/g/{gallery.slug}/")
    box = driver.find_element(By.ID, "marketing_opt_in")
    assert not box.is_selected()  # off by default
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "name").send_keys("Tom Baker")
    if opt_in:
        box.click()
    shot(driver, f"crm-opt-in-{'on' if opt_in else 'off'}")
    driver.find_element(By.CSS_SELECTOR, "form.gate button[type=submit]").click()
    wait_for(lambda: Visitor.objects.filter(gallery=gallery, email=email).exists(), message="visit")


def test_a_guest_who_ticks_the_box_becomes_a_contact_on_the_job(browser, wedding):  # noqa: F811
    gallery, job = wedding
    register(browser, gallery, "quiet@example.com", opt_in=False)
    register(browser, gallery, "tom@example.com", opt_in=True)
    contact = wait_for(
        lambda: Contact.objects.filter(email="tom@example.com").first(), message="the contact"
    )
    assert contact.source == Contact.Source.GALLERY and contact.marketing_consent
    assert contact.marketing_consent_source == "gallery opt-in: Smith Wedding"
    assert JobContact.objects.filter(job=job, contact=contact, role="guest").exists()
    assert not Contact.objects.filter(email="quiet@example.com").exists()
