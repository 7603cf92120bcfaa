"""The inquiry pages of a studio's site (server-rendered): the form, its embed, the thank-you
pages, the embed script, and the public JSON API for apps."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from crm.models import Contact, Inquiry, InquiryForm, Job
from crm.services import inquiries as services
from tests.crm.inquiries.support import STUDIO_A_HOST, STUDIO_B_HOST, aged_token, answers

pytestmark = pytest.mark.django_db

PAGE = "/inquire/weddings/"
EMBED = "/inquire/weddings/embed/"


def client() -> Client:
    # CSRF checks on, as in a browser: the form must not need Django's cookie token.
    return Client(enforce_csrf_checks=True, HTTP_HOST=STUDIO_A_HOST)


def rendered_token(response) -> str:
    return unescape(re.search(r'name="token" value="([^"]+)"', response.content.decode())[1])


def post(path: str, form, data=None, *, token=None, host=STUDIO_A_HOST, **extra):
    body = answers() if data is None else data
    body = {**body, "token": aged_token(form) if token is None else token, **extra}
    return Client(enforce_csrf_checks=True).post(path, body, HTTP_HOST=host)


def test_the_page_shows_the_studio_the_form_and_a_fresh_token(wedding_form):
    response = client().get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Anna Smith Photography" in html
    assert "Tell us about your wedding" in html
    assert "We photograph 25 weddings a year." in html
    for key in ("first_name", "last_name", "email", "event_type", "budget", "message", "venue"):
        assert f'name="{key}"' in html
    assert 'name="website"' in html and 'tabindex="-1"' in html  # the honeypot
    assert "Budget (USD)" in html and 'step="0.01"' in html
    assert '<option value="">Choose…</option>' in html
    assert 'type="checkbox" id="q-marketing_consent"' in html
    assert "csrfmiddlewaretoken" not in html
    token = rendered_token(response)
    with pytest.raises(Exception, match="too fast"):
        services.inquiry_submit(form=wedding_form, data=answers(), token=token, address="192.0.2.1")
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "private, no-store"
    assert "inquiry-frame.js" not in html  # no script on the page itself


def test_head_answers_like_get(wedding_form):
    assert client().head(PAGE).status_code == 200


def test_a_post_without_a_csrf_cookie_makes_the_inquiry_and_shows_the_thanks(
    wedding_form, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(PAGE, wedding_form, marketing_consent="on", origin="https://annasmith.com/")
    assert response.status_code == 302
    assert response["Location"] == "/inquire/weddings/sent/"
    inquiry = Inquiry.objects.get()
    assert inquiry.contact.marketing_consent is True
    assert inquiry.origin == "https://annasmith.com/"
    assert inquiry.job.stage.name == "Inquiry"
    assert len(mailoutbox) == 2
    thanks = client().get("/inquire/weddings/sent/")
    assert "Thank you! Anna answers within two days." in thanks.content.decode()


def test_bad_answers_show_the_form_again_with_the_messages_and_what_was_typed(wedding_form):
    response = post(PAGE, wedding_form, answers(email="jane@", budget="lots", how_found="Friends"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some answers need a look." in html
    assert 'id="e-email"' in html and "Enter a valid email address." in html
    assert 'id="e-budget"' in html
    assert 'value="jane@"' in html and 'value="Friends"' in html
    assert "We are getting married in Lyon!\nSmall and outdoors.</textarea>" in html
    assert "<option selected>Wedding</option>" in html
    assert not Inquiry.objects.exists()


def test_a_double_click_makes_one_inquiry(wedding_form):
    token = aged_token(wedding_form)
    for _ in range(2):
        response = post(PAGE, wedding_form, token=token)
        assert (response.status_code, response["Location"]) == (302, "/inquire/weddings/sent/")
    assert Inquiry.objects.count() == 1


def test_too_fast_keeps_the_token_so_the_next_try_passes(wedding_form):
    token = services.inquiry_form_token(form=wedding_form)
    response = post(PAGE, wedding_form, token=token)
    assert response.status_code == 400
    assert "too fast" in response.content.decode()
    assert rendered_token(response) == token
    assert not Contact.objects.exists()


@pytest.mark.parametrize("token", ["", "forged"])
def test_a_missing_or_forged_token_gets_a_fresh_one_and_nothing_is_made(wedding_form, token):
    response = post(PAGE, wedding_form, token=token)
    assert response.status_code == 400
    assert "reload the page" in response.content.decode()
    assert rendered_token(response) not in ("", "forged")
    assert not Contact.objects.exists()


def test_a_filled_honeypot_looks_like_a_success(wedding_form, mailoutbox):
    response = post(PAGE, wedding_form, website="http://cheap-pills.example")
    assert (response.status_code, response["Location"]) == (302, "/inquire/weddings/sent/")
    assert not Inquiry.objects.exists() and not Contact.objects.exists()


def test_the_per_address_limit_answers_429_with_retry_after(wedding_form, settings):
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 1
    assert post(PAGE, wedding_form).status_code == 302
    response = post(PAGE, wedding_form, answers(email="again@example.com"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many messages" in response.content.decode()
    assert Inquiry.objects.count() == 1


@pytest.mark.parametrize("path", [PAGE, EMBED, "/inquire/weddings/sent/", "/inquire/nope/"])
def test_another_studios_form_an_inactive_one_or_none_is_not_found(wedding_form, path, studio_b):
    on_b = Client(HTTP_HOST=STUDIO_B_HOST).get(path)
    assert on_b.status_code == 404
    assert "no such form" in on_b.content.decode()
    if path == EMBED:  # inside another site's page: no site chrome, and it may be framed
        assert "site-header" not in on_b.content.decode()
        assert "frame-ancestors *" in on_b["Content-Security-Policy"]
    else:
        assert "Bob&#x27;s Weddings" in on_b.content.decode()
        assert "frame-ancestors 'none'" in on_b["Content-Security-Policy"]
    InquiryForm.objects.filter(id=wedding_form.id).update(active=False)
    assert client().get(path).status_code == 404
    assert post(PAGE, wedding_form).status_code == 404
    assert not Inquiry.objects.exists()


def test_a_form_is_not_on_the_api_host(wedding_form):
    assert Client().get(PAGE).status_code == 404


# --- The embed -------------------------------------------------------------------------------
def test_the_embed_may_be_framed_by_the_listed_origins_only(wedding_form, alice):
    response = client().get(EMBED + "?from=https://annasmith.com/contact")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://annasmith.com;" in csp + ";"
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert 'class="site-header"' not in html  # no site chrome inside another site
    assert "crm/inquiry-frame.js" in html
    assert 'action="/inquire/weddings/embed/"' in html
    assert 'name="origin" value="https://annasmith.com/contact"' in html

    services.inquiry_form_update(form=wedding_form, by=alice, changes={"embed_origins": []})
    csp = client().get(EMBED)["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in csp + ";"
    assert "annasmith.com" not in csp


def test_an_embedded_submission_lands_on_the_embedded_thanks(wedding_form):
    response = post(EMBED, wedding_form, origin="https://annasmith.com/contact")
    assert (response.status_code, response["Location"]) == (302, "/inquire/weddings/embed/sent/")
    assert Inquiry.objects.get().origin == "https://annasmith.com/contact"
    thanks = client().get("/inquire/weddings/embed/sent/")
    assert 'id="sent"' in thanks.content.decode()
    assert "frame-ancestors 'self' https://annasmith.com" in thanks["Content-Security-Policy"]
    assert "X-Frame-Options" not in thanks


def test_the_embed_script_loads_from_any_site(wedding_form):
    response = client().get("/inquire/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "max-age=300" in response["Cache-Control"]
    assert b"data-picpick-inquiry" in response.content


def test_an_unknown_slug_of_a_bad_shape_is_a_404(wedding_form):
    assert client().get("/inquire/Not%20A%20Slug/").status_code == 404


# --- The public JSON API ---------------------------------------------------------------------
API = "/api/v1/public/inquiries/"


def test_an_app_reads_the_form_and_sends_it_as_json(
    wedding_form, mailoutbox, django_capture_on_commit_callbacks
):
    form = client().get(f"{API}weddings/").json()
    assert form["id"] == str(wedding_form.id)
    assert form["min_seconds"] == 3
    assert [q["key"] for q in form["questions"]][:3] == ["first_name", "last_name", "email"]
    budget = next(q for q in form["questions"] if q["key"] == "budget")
    assert budget["currency"] == "USD"
    assert client().get(f"{API}{wedding_form.id}/").json()["slug"] == "weddings"

    with django_capture_on_commit_callbacks(execute=True):
        response = client().post(
            f"{API}weddings/",
            {
                "token": aged_token(wedding_form),
                "answers": {**answers(), "marketing_consent": True},
            },
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    assert response.json() == {
        "status": "received",
        "message": "Thank you! Anna answers within two days.",
    }
    assert Job.objects.get().name == "Wedding – Jane Doe"
    assert len(mailoutbox) == 2


def test_the_json_api_names_each_bad_answer_with_a_code(wedding_form):
    response = client().post(
        f"{API}weddings/",
        {
            "token": aged_token(wedding_form),
            "answers": answers(email="x", event_date="2001-01-01", guests=True, colour="red"),
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_answers"
    assert error["field_codes"] == {
        "colour": "unknown_field",
        "email": "invalid_email",
        "event_date": "date_in_past",
        "guests": "invalid",
    }
    assert set(error["fields"]) == set(error["field_codes"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"answers": {}}, 400, "validation_error"),
        ({"token": "x", "answers": []}, 400, "validation_error"),
        ({"token": "x", "answers": {}, "extra": 1}, 400, "validation_error"),
        ({"token": "forged", "answers": {}}, 400, "invalid_form_token"),
    ],
)
def test_the_json_api_refuses_malformed_bodies(wedding_form, body, status, code):
    response = client().post(f"{API}weddings/", body, content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_the_json_api_has_the_same_spam_rules(wedding_form, settings):
    fresh = client().get(f"{API}weddings/").json()["token"]
    too_fast = client().post(
        f"{API}weddings/", {"token": fresh, "answers": answers()}, content_type="application/json"
    )
    assert (too_fast.status_code, too_fast.json()["error"]["code"]) == (400, "too_fast")
    honeypot = client().post(
        f"{API}weddings/",
        {"token": aged_token(wedding_form), "answers": answers(), "website": "x"},
        content_type="application/json",
    )
    assert honeypot.status_code == 201 and not Inquiry.objects.exists()
    settings.PICPICK_CRM_INQUIRY_PER_ADDRESS = 1
    body = {"token": aged_token(wedding_form), "answers": answers()}
    assert (
        client().post(f"{API}weddings/", body, content_type="application/json").status_code == 201
    )
    limited = client().post(f"{API}weddings/", body, content_type="application/json")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_inquiries"
    assert int(limited["Retry-After"]) > 0


def test_the_json_api_answers_404_for_another_studios_or_an_inactive_form(wedding_form, studio_b):
    assert Client(HTTP_HOST=STUDIO_B_HOST).get(f"{API}weddings/").status_code == 404
    assert Client(HTTP_HOST=STUDIO_B_HOST).get(f"{API}{wedding_form.id}/").status_code == 404
    InquiryForm.objects.filter(id=wedding_form.id).update(active=False)
    response = client().get(f"{API}weddings/")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_without_a_studio_site_only_a_form_id_names_a_form(wedding_form):
    from crm.selectors.inquiries import site_inquiry_form
    from picpick.core.errors import NotFound

    # The API host (when the public routes are mounted there): no slugs, ids only.
    assert site_inquiry_form(studio_id=None, key=str(wedding_form.id)) == wedding_form
    with pytest.raises(NotFound):
        site_inquiry_form(studio_id=None, key="weddings")
    InquiryForm.objects.filter(id=wedding_form.id).update(active=False)
    with pytest.raises(NotFound):
        site_inquiry_form(studio_id=None, key=str(wedding_form.id))
