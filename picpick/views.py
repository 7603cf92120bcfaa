"""Pages of the API host that belong to no app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from domains.selectors import site_for_host, site_url_for_host
from picpick.management.commands.load_demo import STUDIO_SLUG as DEMO_SLUG


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """``/`` on the API host: where the docs, the admin and the demo studio's site are."""
    demo_host = f"{DEMO_SLUG}.{settings.PICPICK_BASE_DOMAIN}"
    site = site_for_host(host=demo_host)  # cached; None until `load_demo` made the studio
    demo_site_url = site_url_for_host(demo_host) if site and site.kind == "studio" else None
    return render(request, "picpick/landing.html", {"demo_site_url": demo_site_url})
