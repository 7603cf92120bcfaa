"""The studio's quote API: writing a quote with its items in the money shape, reading,
changing, sending, withdrawing, deleting a draft, pricing a choice; who may do what; another
studio's quote, contact, job or stage is a 404."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import Role
from billing.models import Quote
from billing.services.quotes import quote_link_read
from picpick.testing.factories import ContactFactory, JobFactory, StageFactory
from tests.billing.test_quotes_support import (  # noqa: F401 (fixtures)
    booked_fixture,
    item,
    jane_fixture,
    make_quote,
    pipeline_fixture,
    sent_quote,
    wedding_fixture,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/billing/quotes"
VAT = [{"name": "VAT", "rate": "20"}]


def body(jane, **changes) -> dict:
    data = {
        "contact_id": str(jane.id),
        "title": "Doe wedding",
        "currency": "EUR",
        "items": [
            {"kind": "package", "name": "Half day", "unit_price": "1000.00", "taxes": VAT},
            {
                "kind": "package",
                "name": "Full day",
                "unit_price": 180_000,
                "taxes": VAT,
                "selected": True,
            },
            {"name": "Travel", "unit_price": "50", "quantity": "1", "taxes": VAT},
            {"name": "Album", "unit_price": "300.00", "optional": True, "taxes": VAT},
        ],
    }
    data.update(changes)
    return data


def test_writing_a_quote_answers_it_in_the_money_shape(alice_client, jane, wedding, booked):
    response = alice_client.post(
        f"{BASE}/",
        body(
            jane,
            job_id=str(wedding.id),
            accept_stage_id=str(booked.id),
            discount_amount="10.00",
            expires_on="2099-01-31",
            schedule=[
                {"label": "Deposit", "percent": "30", "due": {"on": "acceptance"}},
                {"balance": True},
            ],
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["state"], data["number"], data["link"]) == ("draft", None, None)
    assert data["contact"] == {"id": str(jane.id), "name": "Jane Doe", "email": jane.email}
    assert data["job"]["id"] == str(wedding.id)
    assert data["accept_stage"] == {"id": str(booked.id), "name": "Booked"}
    assert data["discount_amount"]["amount"] == 1_000
    assert [(i["name"], i["kind"], i["optional"], i["selected"]) for i in data["items"]] == [
        ("Half day", "package", False, False),
        ("Full day", "package", False, True),
        ("Travel", "item", False, True),
        ("Album", "item", True, False),
    ]
    half = data["items"][0]
    assert half["unit_price"] == {
        "amount": 100_000,
        "currency": "EUR",
        "decimal": "1000.00",
        "formatted": "€1,000.00",
    }
    assert half["quantity"] == "1"
    assert half["taxes"] == [{"name": "VAT", "rate": "20", "inclusive": False, "compound": False}]
    # The pre-selection: the full day and travel, less 10.00, with VAT.
    assert data["preselected_total"]["amount"] == (185_000 - 1_000) * 12 // 10


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"items": [{"name": "x", "unit_price": 10.5}]}, "amount_float"),
        ({"items": [{"name": "x", "unit_price": 100, "quantity": 1.5}]}, "quantity_invalid"),
        ({"items": [{"name": "x", "unit_price": 100, "quantity": "-1"}]}, "quantity_invalid"),
        (
            {"items": [{"name": "x", "unit_price": 100, "taxes": [{"name": "T", "rate": 20.5}]}]},
            "tax_rate_invalid",
        ),
        (
            {"items": [{"name": "x", "unit_price": 100, "taxes": [{"name": "T", "rate": "101"}]}]},
            "tax_rate_invalid",
        ),
        ({"items": [{"name": "x", "unit_price": 100, "colour": "red"}]}, "validation_error"),
        ({"discount_percent": 10.5}, "discount_invalid"),
        ({"discount_amount": "99999.00"}, "discount_exceeds_total"),
    ],
)
def test_bad_input_is_a_400_with_its_code_and_nothing_written(alice_client, jane, change, code):
    response = alice_client.post(f"{BASE}/", body(jane, **change), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Quote.objects.exists()


def test_another_studios_contact_job_or_stage_is_a_404(
    alice_client, studio_b, jane, wedding, pipeline
):
    cases = [
        ({"contact_id": str(ContactFactory(studio=studio_b).id)}, "contact_not_found"),
        ({"job_id": str(JobFactory().id)}, "job_not_found"),
        (
            {"job_id": str(wedding.id), "accept_stage_id": str(StageFactory().id)},
            "stage_not_found",
        ),
        ({"contact_id": str(uuid.uuid4())}, "contact_not_found"),
    ]
    for change, code in cases:
        response = alice_client.post(f"{BASE}/", body(jane, **change), format="json")
        assert response.status_code == 404, (change, response.content)
        assert response.json()["error"]["code"] == code
    assert not Quote.objects.exists()


def test_another_studios_quote_is_a_404_everywhere(bob_client, studio_a, jane):
    quote = sent_quote(studio_a, jane)
    draft = make_quote(studio_a, jane)
    assert bob_client.get(f"{BASE}/{quote.id}/").status_code == 404
    assert bob_client.get(f"{BASE}/{quote.id}/totals/").status_code == 404
    assert bob_client.patch(f"{BASE}/{quote.id}/", {"title": "x"}, format="json").status_code == 404
    assert bob_client.post(f"{BASE}/{draft.id}/send/").status_code == 404
    assert bob_client.post(f"{BASE}/{quote.id}/withdraw/").status_code == 404
    assert bob_client.delete(f"{BASE}/{draft.id}/").status_code == 404
    assert bob_client.get(f"{BASE}/").json()["results"] == []
    quote.refresh_from_db()
    assert quote.state == Quote.State.SENT and Quote.objects.count() == 2


def test_who_may_read_and_write(member_of_a, jane):
    quote = sent_quote(jane.studio, jane)
    _, admin = member_of_a(Role.ADMIN)  # billing.view only
    _, photographer = member_of_a(Role.PHOTOGRAPHER)
    assert admin.get(f"{BASE}/").status_code == 200
    assert admin.get(f"{BASE}/{quote.id}/").status_code == 200
    for response in (
        admin.post(f"{BASE}/", body(jane), format="json"),
        admin.patch(f"{BASE}/{quote.id}/", {"title": "x"}, format="json"),
        admin.post(f"{BASE}/{quote.id}/withdraw/"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert photographer.get(f"{BASE}/").status_code == 403
    assert photographer.get(f"{BASE}/{quote.id}/totals/").status_code == 403


def test_send_change_withdraw_and_delete(
    alice_client, jane, mailoutbox, django_capture_on_commit_callbacks
):
    created = alice_client.post(f"{BASE}/", body(jane), format="json").json()
    url = f"{BASE}/{created['id']}/"
    with django_capture_on_commit_callbacks(execute=True):
        sent = alice_client.post(f"{url}send/")
    assert sent.status_code == 200, sent.content
    data = sent.json()
    assert data["state"] == "sent" and data["number"].startswith("Q-")
    token = data["link"].rsplit("/quotes/", 1)[1].strip("/")
    assert str(quote_link_read(token)) == created["id"]
    assert data["link"] in mailoutbox[0].body
    changed = alice_client.patch(url, {"discount_percent": "10"}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["state"], changed.json()["discount_percent"]) == ("sent", "10")
    refused = alice_client.delete(url)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "quote_not_draft")
    withdrawn = alice_client.post(f"{url}withdraw/")
    assert withdrawn.json()["state"] == "withdrawn"
    closed = alice_client.patch(url, {"title": "again"}, format="json")
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "quote_closed")
    resend = alice_client.post(f"{url}send/")
    assert (resend.status_code, resend.json()["error"]["code"]) == (409, "quote_withdrawn")
    draft = alice_client.post(f"{BASE}/", body(jane), format="json").json()
    assert alice_client.delete(f"{BASE}/{draft['id']}/").status_code == 204
    assert not Quote.objects.filter(id=draft["id"]).exists()


def test_the_list_filters_by_state_job_and_contact(alice_client, studio_a, jane, wedding):
    sent = sent_quote(studio_a, jane, wedding)
    draft = make_quote(studio_a, jane)
    other = make_quote(studio_a, ContactFactory(studio=studio_a))

    def ids(**params):
        response = alice_client.get(f"{BASE}/", params)
        assert response.status_code == 200, response.content
        return [q["id"] for q in response.json()["results"]]

    assert ids() == [str(other.id), str(draft.id), str(sent.id)]
    assert ids(state="sent") == [str(sent.id)]
    assert ids(job_id=str(wedding.id)) == [str(sent.id)]
    assert ids(contact_id=str(jane.id)) == [str(draft.id), str(sent.id)]
    assert ids(page_size=1) == [str(other.id)]


def test_the_totals_of_a_choice(alice_client, studio_a, jane):
    quote = sent_quote(studio_a, jane)
    url = f"{BASE}/{quote.id}/totals/"
    default = alice_client.get(url).json()
    assert default["package_id"] == str(item(quote, "Full day").id)
    assert default["total"]["amount"] == 222_000
    half, album = item(quote, "Half day"), item(quote, "Album")
    chosen = alice_client.get(url, {"package": str(half.id), "addons": str(album.id)})
    assert chosen.status_code == 200, chosen.content
    data = chosen.json()
    assert [line["name"] for line in data["lines"]] == ["Half day", "Travel", "Album"]
    assert (data["subtotal"]["amount"], data["tax"]["amount"], data["total"]["amount"]) == (
        135_000,
        27_000,
        162_000,
    )
    assert data["taxes"][0]["amount"]["formatted"] == "€270.00"
    missing = alice_client.get(url, {"addons": str(album.id)})
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "package_required")
    wrong = alice_client.get(url, {"package": str(album.id)})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "choice_invalid")
