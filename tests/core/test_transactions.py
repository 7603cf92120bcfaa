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


def test_the_request_transaction_is_the_last_middleware(settings):
    # Last, so that the CSRF check and the others' process_view run before the view does.
    assert settings.MIDDLEWARE[-1] == "picpick.core.transactions.RequestTransactionMiddleware"


@pytest.mark.django_db(transaction=True)
def test_a_read_runs_in_autocommit_and_a_write_in_one_transaction(alice_client, studio_a):
    assert alice_client.get("/api/v1/transaction-probe/").json() == {"in_transaction": False}
    assert alice_client.post("/api/v1/transaction-probe/").json() == {"in_transaction": True}
    outside = alice_client.post("/api/v1/transaction-probe-outside/")
    assert outside.json() == {"in_transaction": False}


@pytest.mark.django_db(transaction=True)
def test_an_error_answered_by_the_handler_rolls_back_only_the_request(alice_client, studio_a):
    """The 409 is answered, not raised: the handler marks the rollback of the request's own
    transaction, and the connection is usable again for the next request."""
    assert alice_client.post("/api/v1/two-galleries/", {}, format="json").status_code == 409
    assert alice_client.get("/api/v1/echo/").status_code == 200
    assert not Gallery.objects.filter(studio=studio_a).exists()
