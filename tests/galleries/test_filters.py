"""Where list filters come from: one mechanism (DRF serializers), one set of paging parameters."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.conf import settings

from galleries import filters
from picpick.core import pagination


def test_list_filters_page_with_the_one_set_of_paging_parameters():
    assert filters.PageParams is pagination.PageParams
    assert issubclass(filters.GalleryListFilters, pagination.PageParams)
    assert issubclass(filters.PhotoListFilters, pagination.PageParams)


def test_django_filter_is_not_installed_beside_the_serializers():
    # galleries/filters.py says why: it would have been a second, leakier way to read input
    assert "django_filters" not in settings.INSTALLED_APPS
    project = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())
    assert not any(dep.startswith("django-filter") for dep in project["project"]["dependencies"])
