"""The studio's payment account (Stripe Connect) through the API and the fake Stripe: made
once, onboarded through a fresh link, its flags read from the provider."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from accounts.models import Role
from billing.models import ConnectedAccount
from billing.services.connect import connect_start
from tests.billing.test_payments_support import deliver
from tests.races import race

pytestmark = pytest.mark.django_db

URL = "/api/v1/billing/connect/"


def test_a_studio_without_an_account_is_not_connected(alice_client):
    body = alice_client.get(URL).json()
    assert (body["connected"], body["charges_enabled"], body["account_id"]) == (False, False, None)


def test_onboarding_makes_the_account_once_and_a_fresh_link_each_time(
    studio_a, alice, alice_client, fake_stripe
):
    first = alice_client.post(URL, {"country": "FR"}, format="json")
    assert first.status_code == 200, first.content
    body = first.json()
    account = ConnectedAccount.objects.get(studio=studio_a)
    assert body["account_id"] == account.provider_account_id
    assert (body["connected"], body["charges_enabled"], body["country"]) == (True, False, "FR")
    assert body["onboarding_url"].startswith(f"{fake_stripe.url}/fake/connect/onboarding/")
    (create,) = [r for r in fake_stripe.api_requests() if r.path == "/v1/accounts"]
    assert create.idempotency_key == f"connect-account:{studio_a.id}"
    assert create.params["email"] == alice.email and create.account is None
    link = next(r for r in fake_stripe.api_requests() if r.path == "/v1/account_links")
    assert link.params["return_url"].startswith("http")

    second = alice_client.post(URL, {}, format="json").json()
    assert second["account_id"] == body["account_id"]
    assert second["onboarding_url"] != body["onboarding_url"]
    assert ConnectedAccount.objects.count() == 1
    assert len([r for r in fake_stripe.api_requests() if r.path == "/v1/accounts"]) == 1

    # The owner finishes the form on the provider's side; a refresh reads the flags.
    fake_stripe.complete_onboarding(account.provider_account_id)
    refreshed = alice_client.post(f"{URL}refresh/").json()
    assert (refreshed["charges_enabled"], refreshed["payouts_enabled"]) == (True, True)
    assert alice_client.get(URL).json()["charges_enabled"] is True


def test_the_account_updated_webhook_reads_the_flags(
    studio_a, alice_client, fake_stripe, django_capture_on_commit_callbacks
):
    alice_client.post(URL, {"country": "US"}, format="json")
    account = ConnectedAccount.objects.get()
    fake_stripe.complete_onboarding(account.provider_account_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(fake_stripe, fake_stripe.last_event("account.updated")).status_code == 200
    account.refresh_from_db()
    assert account.charges_enabled and account.details_submitted


def test_onboarding_needs_billing_manage(studio_a, member_of_a, fake_stripe):
    _, admin = member_of_a(Role.ADMIN)
    assert admin.get(URL).status_code == 200
    refused = admin.post(URL, {}, format="json")
    assert (refused.status_code, refused.json()["error"]["permission"]) == (403, "billing.manage")
    assert admin.post(f"{URL}refresh/").status_code == 403
    assert ConnectedAccount.objects.count() == 0


def test_each_studio_sees_its_own_account(studio_a, alice_client, bob_client, fake_stripe):
    alice_client.post(URL, {}, format="json")
    assert bob_client.get(URL).json()["connected"] is False
    missing = bob_client.post(f"{URL}refresh/")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_connected")


@pytest.mark.parametrize("country", ["France", "F1", "", "ÉÉ"])
def test_a_bad_country_is_refused(alice_client, fake_stripe, country):
    response = alice_client.post(URL, {"country": country}, format="json")
    assert response.status_code == 400
    assert fake_stripe.api_requests() == []


def test_without_stripe_keys_payments_are_not_configured(alice_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = alice_client.post(URL, {}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "payments_not_configured",
    )


def test_the_onboarding_link_lands_on_the_return_url(alice_client, fake_stripe):
    body = alice_client.post(
        URL, {"return_url": "https://app.picpick.test/settings/payments?done=1"}, format="json"
    ).json()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(body["onboarding_url"])
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == "https://app.picpick.test/settings/payments?done=1"


@pytest.mark.django_db(transaction=True)
def test_two_racing_starts_make_one_account(studio_a, alice, fake_stripe):
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("racing threads need MariaDB (SQLite has one writer)")
    results = race(4, lambda _: connect_start(studio=studio_a, by=alice, country="FR")[0].pk)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    assert ConnectedAccount.objects.count() == 1
