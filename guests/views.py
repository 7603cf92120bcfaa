"""The guest pages of a studio's site: home, gallery (unlock, register, expired), rendered
on the server; the grid, viewer, favourites, downloads and selfie search call the guest API
from ``static/guests/gallery.js`` on the same origin.

Every page is scoped to the studio of the host (``request.site``); every answer carries a
Content-Security-Policy that allows only this origin and the storage origin for images.
"""

from __future__ import annotations

import functools
import logging

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST, require_safe

from domains.selectors import studio_for_site
from galleries.models import Gallery
from galleries.selectors.delivery import gallery_cover_thumb_urls
from guests import access, selectors, services
from guests.apis.base import set_grant_cookie
from picpick.core.clientaddr import client_address
from picpick.core.csp import content_security_policy
from picpick.core.errors import ApplicationError, NotFound, RateLimited

logger = logging.getLogger(__name__)


def _render(request, template: str, context: dict, status: int = 200):
    """A site page: the studio's name and logo in the header of every one."""
    studio = context.get("studio")
    logo_url = selectors.studio_logo_url(studio=studio) if studio is not None else None
    return render(request, template, {**context, "logo_url": logo_url}, status=status)


def site_page(view):
    """The studio of the host for the view (404 page otherwise), CSP and no caching."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        site = getattr(request, "site", None)
        studio = studio_for_site(site=site) if site is not None else None
        if studio is None:
            response = _render(request, "guests/not_found.html", {"studio": None}, status=404)
        else:
            request.studio = studio
            try:
                response = view(request, *args, **kwargs)
            except NotFound:
                response = _render(request, "guests/not_found.html", {"studio": studio}, status=404)
        response["Content-Security-Policy"] = content_security_policy()
        response["Referrer-Policy"] = "same-origin"
        response["X-Content-Type-Options"] = "nosniff"
        response.setdefault("Cache-Control", "private, no-store")
        return response

    return wrapped


def not_found(request, exception=None):
    """The site's 404: a page for people, the JSON error for the API."""
    if request.path.startswith("/api/"):
        from picpick.core.errors import json_404

        return json_404(request, exception)
    studio = None
    site = getattr(request, "site", None)
    if site is not None:
        studio = studio_for_site(site=site)
    response = _render(request, "guests/not_found.html", {"studio": studio}, status=404)
    response["Content-Security-Policy"] = content_security_policy()
    return response


@require_safe
@site_page
def home(request):
    galleries = selectors.studio_home_galleries(studio=request.studio)
    covers = gallery_cover_thumb_urls(galleries=galleries)
    cards = [{"gallery": g, "cover": covers.get(g.id)} for g in galleries]
    return _render(request, "guests/home.html", {"studio": request.studio, "cards": cards})


def _grant(request, gallery: Gallery):
    raw = request.COOKIES.get(access.cookie_name(gallery.id))
    return access.load(raw) if raw else None


def _gate(request, gallery: Gallery, *, error: str = "", status: int = 200):
    """The page a guest gets before the gallery itself, or None when they may look."""
    context = {"studio": request.studio, "gallery": gallery, "error": error}
    if selectors.is_expired(gallery):
        return _render(request, "guests/expired.html", context, status=410)
    grant = services.grant_current(gallery=gallery, grant=_grant(request, gallery))
    if grant is None:
        return _render(request, "guests/unlock.html", context, status=status)
    if gallery.require_registration and grant.visitor_id is None:
        return _render(request, "guests/register.html", context, status=status)
    return None


@require_safe
@ensure_csrf_cookie
@site_page
def gallery_page(request, slug: str):
    gallery = selectors.site_gallery_by_slug(studio_id=request.studio.id, slug=slug)
    gate = _gate(request, gallery)
    if gate is not None:
        return gate
    grant = services.grant_current(gallery=gallery, grant=_grant(request, gallery))
    visitor = selectors.visitor_get(gallery=gallery, visitor_id=grant.visitor_id)
    counts = selectors.guest_photo_counts(gallery=gallery)
    albums = selectors.guest_albums(gallery=gallery)
    for album in albums:
        album.guest_photo_count = counts.get(album.id, 0)
    context = {
        "studio": request.studio,
        "gallery": gallery,
        "albums": albums,
        "photo_count": sum(counts.values()),
        "cover": gallery_cover_thumb_urls(galleries=[gallery])[gallery.id],
        "visitor": visitor,
        "face_search": gallery.face_recognition_enabled and request.studio.face_recognition_enabled,
        "download_sizes": gallery.download_sizes or [],
        "download_pin_needed": bool(gallery.download_pin) and not grant.downloads_unlocked,
    }
    return _render(request, "guests/gallery.html", context)


def _with_grant(request, gallery: Gallery, grant) -> HttpResponseRedirect:
    response = HttpResponseRedirect(f"/g/{gallery.slug}/")
    set_grant_cookie(response, request, grant)
    return response


@require_POST
@site_page
def gallery_unlock(request, slug: str):
    gallery = selectors.site_gallery_by_slug(studio_id=request.studio.id, slug=slug)
    try:
        grant = services.gallery_unlock(
            gallery=gallery,
            secret=request.POST.get("secret", "")[:128],
            address=client_address(request),
            grant=_grant(request, gallery),
        )
    except RateLimited as exc:
        minutes = max(1, exc.extra["retry_after"] // 60)
        response = _gate(
            request, gallery, error=f"Too many attempts. Try again in {minutes} min.", status=429
        )
        response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    except ApplicationError as exc:
        gate = _gate(request, gallery, error=exc.message, status=exc.status_code)
        return gate if gate is not None else HttpResponseRedirect(f"/g/{gallery.slug}/")
    return _with_grant(request, gallery, grant)


@require_POST
@site_page
def gallery_register(request, slug: str):
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    gallery = selectors.site_gallery_by_slug(studio_id=request.studio.id, slug=slug)
    email = request.POST.get("email", "").strip()[:254]
    try:
        validate_email(email)
    except ValidationError:
        return _gate(request, gallery, error="Enter a valid email address.", status=400) or (
            HttpResponseRedirect(f"/g/{gallery.slug}/")
        )
    try:
        grant = services.visitor_register(
            gallery=gallery,
            grant=_grant(request, gallery),
            email=email,
            name=request.POST.get("name", "").strip()[:120],
            marketing_opt_in=request.POST.get("marketing_opt_in") == "1",
        )
    except ApplicationError as exc:
        return _gate(request, gallery, error=exc.message, status=exc.status_code) or (
            HttpResponseRedirect(f"/g/{gallery.slug}/")
        )
    return _with_grant(request, gallery, grant)
