"""``/`` on the API host: a small page pointing at the docs, the admin and the demo site."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from picpick.testing.factories import StudioFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Host routing answers are cached: a test must not see the demo studio of another.
    cache.clear()
    yield
    cache.clear()


def test_the_api_host_root_links_the_docs_and_the_admin():
    response = Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for href in ('href="/api/docs/"', 'href="/admin/"', 'href="/api/redoc/"'):
        assert href in page
    assert "demo studio" not in page  # no demo studio loaded


def test_it_links_the_demo_studios_site_once_the_demo_is_loaded(settings):
    settings.PICPICK_SITE_SCHEME, settings.PICPICK_SITE_PORT = "http", 8001
    StudioFactory(slug="demo", name="Demo Studio")
    page = Client().get("/").content.decode()
    assert 'href="http://demo.localhost:8001"' in page


def test_head_answers_and_writes_are_refused():
    assert Client().head("/").status_code == 200
    assert Client().post("/").status_code == 405


def test_a_studio_sites_root_is_still_its_home(studio_a):
    response = Client().get("/", HTTP_HOST=f"{studio_a.slug}.localhost")
    assert response.status_code == 200
    assert "API docs" not in response.content.decode()
