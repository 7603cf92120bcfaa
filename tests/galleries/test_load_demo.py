"""``manage.py load_demo`` builds the demo once, with processed photos; a second run changes
nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from accounts.models import Membership, Role, Studio, StudioUsage, User
from billing.models import CatalogueItem, GiftCard, Invoice, LedgerTransaction, Quote, Wallet
from billing.services.reconcile import ledger_check
from crm.models import Contact, InquiryForm, Job, StageChange, TimelineEvent, Workflow
from galleries.models import Album, Gallery, Photo
from picpick.management.commands import load_demo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_pictures(monkeypatch, local_storage):
    """Small pictures keep the test quick; the storage is a folder of the test's own."""
    monkeypatch.setattr(load_demo, "DEMO_IMAGE_SIZE", (480, 320))
    load_demo.demo_picture.cache_clear()
    yield
    load_demo.demo_picture.cache_clear()


def state() -> dict:
    return {
        "studios": list(Studio.objects.values_list("id", "name", "slug", "updated_at")),
        "users": list(User.objects.values_list("id", "password", "updated_at")),
        "galleries": list(Gallery.objects.values()),
        "albums": list(Album.objects.order_by("id").values()),
        "photos": list(Photo.objects.order_by("id").values()),
        "usage": list(StudioUsage.objects.values()),
        "contacts": list(Contact.objects.order_by("id").values("id", "updated_at")),
        "jobs": list(Job.objects.order_by("id").values("id", "stage_id", "updated_at")),
        "timeline": TimelineEvent.objects.count(),
        "ledger": LedgerTransaction.objects.count(),
        "gift_cards": GiftCard.objects.count(),
    }


def test_load_demo_builds_the_demo_and_is_idempotent(local_storage):
    out = StringIO()
    call_command("load_demo", stdout=out)
    studio = Studio.objects.get(slug="demo")
    assert studio.name == "Demo Studio"
    owner = User.objects.get(email="demo@picpick.example")
    assert owner.check_password("demo-password-123")
    assert Membership.objects.get(studio=studio, user=owner).role == Role.OWNER
    gallery = Gallery.objects.get(studio=studio)
    assert (gallery.name, gallery.status) == ("Smith & Jones Wedding", Gallery.Status.PUBLISHED)
    assert gallery.published_at is not None
    assert Album.objects.filter(gallery=gallery).count() == 3
    photos = Photo.objects.filter(gallery=gallery)
    assert 100 <= photos.count() <= 140
    assert set(photos.values_list("state", flat=True)) == {Photo.State.READY}
    assert not photos.filter(captured_at=None).exists()
    assert not photos.filter(camera="").exists()
    assert gallery.photo_count == photos.count()
    assert gallery.cover_photo_id is not None
    usage = StudioUsage.objects.get(studio=studio)
    assert (usage.gallery_count, usage.photo_count) == (1, photos.count())
    # Real photos: processed from their originals by the processing service.
    for photo in photos:
        assert photo.original_key and set(photo.derivatives) == {"thumb", "preview"}
        assert local_storage.head(key=photo.original_key) is not None
        thumb = local_storage.head(key=photo.derivatives["thumb"]["key"])
        assert thumb is not None and thumb.size == photo.derivatives["thumb"]["bytes"]
    portrait = photos.filter(height__gt=F("width")).first()
    assert portrait is not None  # stored sideways with an EXIF orientation, processed upright
    assert portrait.derivatives["thumb"]["height"] > portrait.derivatives["thumb"]["width"]
    first = photos.order_by("position").first()
    assert first.camera and first.captured_at is not None
    assert first.exif["camera"] == first.camera
    text = out.getvalue()
    assert f"] {photos.count()}/{photos.count()}" in text  # the progress bar reached the end
    assert "demo-password-123" in text
    # The CRM: clients, jobs across the pipeline (with their history), a workflow, a form.
    assert Contact.objects.filter(studio=studio).count() == 6
    # Billing: a wallet with credit and a spend, a gift card, a balanced ledger.
    wallet = Wallet.objects.get(studio=studio)
    assert wallet.account.balance == 3500
    assert GiftCard.objects.get(studio=studio).initial_amount == 10000
    assert ledger_check(studio=studio).ok
    assert "/wallet/" in out.getvalue()
    # Invoicing: a catalogue, a quote sent, an invoice with a schedule and its deposit paid.
    assert CatalogueItem.objects.filter(studio=studio).count() == 6
    sent = Quote.objects.get(studio=studio, state=Quote.State.SENT)
    assert sent.number and "/quotes/" in text
    invoice = Invoice.objects.get(studio=studio, kind=Invoice.Kind.INVOICE)
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and "/invoices/" in text
    deposit, balance = invoice.instalments.order_by("position")
    assert (deposit.state, balance.state) == ("paid", "pending")
    jobs = Job.objects.filter(studio=studio).select_related("stage")
    assert {job.stage.name for job in jobs} >= {"Inquiry", "Proposal sent", "Booked", "Lost"}
    wedding = jobs.get(name="Smith & Jones Wedding")
    assert wedding.job_galleries.get().gallery == gallery
    assert StageChange.objects.filter(job=wedding).count() >= 4
    assert InquiryForm.objects.filter(studio=studio, slug="wedding", active=True).exists()
    assert Workflow.objects.get(studio=studio).steps.count() == 2
    assert "CRM demo: 6 contacts, 5 jobs" in text

    before = state()
    again = StringIO()
    call_command("load_demo", stdout=again)
    assert state() == before
    assert "(0 new)" in again.getvalue()
