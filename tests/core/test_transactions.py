"""Every request is one transaction: a view whose second write fails leaves nothing behind."""

from __future__ import annotations

import pytest

from galleries.models import Gallery

pytestmark = [pytest.mark.urls("tests.core.urls")]


@pytest.mark.django_db(transaction=True)
def test_a_failed_second_write_rolls_back_the_first(alice_client, studio_a):
    response = alice_client.post("/api/v1/two-galleries/", {}, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "slug_taken"
    assert not Gallery.objects.filter(studio=studio_a).exists()


@pytest.mark.django_db(transaction=True)
def test_a_view_outside_the_request_transaction_keeps_what_its_services_committed(
    alice_client, studio_a
):
    response = alice_client.post("/api/v1/two-galleries-outside/", {}, format="json")

    assert response.status_code == 409, response.content
    assert list(Gallery.objects.filter(studio=studio_a).values_list("name", flat=True)) == ["First"]


def test_every_database_wraps_requests_in_a_transaction(settings):
    assert all(db["ATOMIC_REQUESTS"] for db in settings.DATABASES.values())
