"""The inquiry pages of a studio's site: the form (``/inquire/<slug>/``), the same form for an
iframe on the studio's own website (``/inquire/<slug>/embed/``), the thank-you pages, and the
script that embeds it (``/inquire/embed.js``).

Every page is scoped to the studio of the host (``request.site``); another studio's form, an
inactive one or an unknown slug is the same 404 page. The form posts back to its own page on
this host; it carries no CSRF cookie token on purpose (``crm.services.inquiries`` says why a
signed form token is the protection here).
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from crm import inquiry_fields
from crm.models import InquiryForm
from crm.selectors.inquiries import site_inquiry_form
from crm.services import inquiries as services
from domains.selectors import studio_for_site
from guests.selectors import studio_logo_url
from picpick.core.clientaddr import client_address
from picpick.core.csp import content_security_policy
from picpick.core.errors import ApplicationError, NotFound, RateLimited

HONEYPOT = "website"
_TOKEN_CODES = {"invalid_form_token", "form_token_expired"}


def embed_frame_ancestors(form: InquiryForm) -> str:
    """The studio's own site and the origins the studio listed (checked strictly when saved:
    nothing in them can end the directive)."""
    return " ".join(["'self'", *form.embed_origins])


def _render(request, template: str, context: dict, status: int = 200):
    studio = context.get("studio")
    logo_url = studio_logo_url(studio=studio) if studio is not None else None
    return render(request, template, {**context, "logo_url": logo_url}, status=status)


def inquiry_page(view):
    """The studio of the host for the view (the 404 page otherwise), the security headers and
    no caching (a page holds a fresh form token)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        site = getattr(request, "site", None)
        studio = studio_for_site(site=site) if site is not None else None
        embed = kwargs.get("embed", False)
        try:
            if studio is None:
                raise NotFound("No such site.")
            request.studio = studio
            response = view(request, *args, **kwargs)
        except NotFound:
            response = _render(
                request, "crm/inquiry_not_found.html", {"studio": studio, "embed": embed}, 404
            )
            if embed:
                # Inside a site's iframe (a paused form) the notice shows rather than a broken
                # frame; it holds nothing to click, so any page may frame it.
                response["Content-Security-Policy"] = content_security_policy(frame_ancestors="*")
        response.setdefault("Content-Security-Policy", content_security_policy())
        response["Referrer-Policy"] = "same-origin"
        response["X-Content-Type-Options"] = "nosniff"
        response.setdefault("Cache-Control", "private, no-store")
        return response

    return wrapped


def _form(request, slug: str) -> InquiryForm:
    form = site_inquiry_form(studio_id=request.studio.id, key=slug)
    form.studio = request.studio
    return form


def _base_path(form: InquiryForm, embed: bool) -> str:
    return f"/inquire/{form.slug}/" + ("embed/" if embed else "")


def _questions(form: InquiryForm, values: dict, errors: dict) -> list[dict]:
    currency = form.studio.default_currency
    exponent = inquiry_fields.currency_exponent(currency)
    shown = []
    for question in inquiry_fields.questions(form.fields):
        key = question["key"]
        item = {**question, "value": values.get(key, ""), "errors": errors.get(key, [])}
        if question["kind"] == "budget":
            item["currency"] = currency
            item["step"] = "1" if exponent == 0 else f"0.{'0' * (exponent - 1)}1"
        shown.append(item)
    return shown


def _page(
    request,
    form: InquiryForm,
    *,
    embed: bool,
    token: str | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    message: str = "",
    origin: str = "",
    status: int = 200,
):
    context = {
        "studio": request.studio,
        "form": form,
        "embed": embed,
        "action": _base_path(form, embed),
        "questions": _questions(form, values or {}, errors or {}),
        "token": token or services.inquiry_form_token(form=form),
        "honeypot": HONEYPOT,
        "origin": origin,
        "message": message,
    }
    response = _render(request, "crm/inquiry_form.html", context, status)
    if embed:
        response["Content-Security-Policy"] = content_security_policy(
            frame_ancestors=embed_frame_ancestors(form)
        )
    return response


def _form_view(request, slug: str, *, embed: bool):
    form = _form(request, slug)
    if request.method != "POST":
        origin = request.GET.get("from", "") if embed else request.META.get("HTTP_REFERER", "")
        return _page(request, form, embed=embed, origin=origin[:300])
    keys = [q["key"] for q in inquiry_fields.questions(form.fields)]
    values = {key: request.POST.get(key) for key in keys}
    token = request.POST.get("token", "")
    origin = request.POST.get("origin", "")[:300]
    try:
        services.inquiry_submit(
            form=form,
            data=values,
            token=token,
            honeypot=request.POST.get(HONEYPOT, ""),
            address=client_address(request),
            origin=origin,
            strict=False,  # the page reads only the keys it rendered
        )
    except RateLimited as exc:
        minutes = max(1, exc.extra["retry_after"] // 60)
        response = _page(
            request,
            form,
            embed=embed,
            token=token,
            values=values,
            origin=origin,
            message=f"Too many messages from your connection. Try again in {minutes} min.",
            status=429,
        )
        response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    except ApplicationError as exc:
        return _page(
            request,
            form,
            embed=embed,
            # A missing, forged or expired token gets a fresh one (the person's answers stay);
            # a valid one that was too fast is kept: it is old enough by the next try.
            token=None if exc.code in _TOKEN_CODES else token,
            values=values,
            errors=exc.fields if exc.code == "invalid_answers" else {},
            message=exc.message,
            origin=origin,
            status=exc.status_code,
        )
    return HttpResponseRedirect(_base_path(form, embed) + "sent/")


def _sent_view(request, slug: str, *, embed: bool):
    form = _form(request, slug)
    context = {
        "studio": request.studio,
        "form": form,
        "embed": embed,
        "success": form.success_message or inquiry_fields.DEFAULT_SUCCESS,
    }
    response = _render(request, "crm/inquiry_sent.html", context)
    if embed:
        response["Content-Security-Policy"] = content_security_policy(
            frame_ancestors=embed_frame_ancestors(form)
        )
    return response


# The page and its embed are two views (same code) so that only the embed drops Django's
# X-Frame-Options: DENY; the page keeps it and frame-ancestors 'none'.
@csrf_exempt  # the signed form token protects the post: see crm.services.inquiries
@require_http_methods(["GET", "HEAD", "POST"])
@inquiry_page
def form_page(request, slug: str, embed: bool = False):
    return _form_view(request, slug, embed=False)


@csrf_exempt  # the signed form token protects the post: see crm.services.inquiries
@xframe_options_exempt  # framing is decided by the CSP's frame-ancestors (the form's origins)
@require_http_methods(["GET", "HEAD", "POST"])
@inquiry_page
def form_embed(request, slug: str, embed: bool = True):
    return _form_view(request, slug, embed=True)


@require_safe
@inquiry_page
def form_sent(request, slug: str, embed: bool = False):
    return _sent_view(request, slug, embed=False)


@xframe_options_exempt
@require_safe
@inquiry_page
def form_embed_sent(request, slug: str, embed: bool = True):
    return _sent_view(request, slug, embed=True)


@functools.lru_cache(maxsize=1)
def _embed_script() -> bytes:
    return Path(finders.find("crm/embed.js")).read_bytes()


@require_safe
@cache_control(public=True, max_age=300)
def embed_script(request):
    """The script a studio pastes on its own website; it loads from this host, on any page."""
    response = HttpResponse(_embed_script(), content_type="text/javascript; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    # Loaded by other sites' pages: say so, for those that isolate their origin (COEP).
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
