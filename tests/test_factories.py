"""Every model of the project's apps has a factory, and each builds a valid row on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from factory.django import DjangoModelFactory

from accounts.models import Studio
from domains.models import Domain
from picpick.testing import factories

FACTORIES = {
    value._meta.model: value
    for value in vars(factories).values()
    if isinstance(value, type) and issubclass(value, DjangoModelFactory) and value._meta.model
}

# Defaults that switch on extra columns the database checks (constraints, derived keys).
VARIANTS = [
    (factory, {}) for factory in sorted(FACTORIES.values(), key=lambda f: f._meta.model._meta.label)
] + [
    (factories.DomainFactory, {"state": Domain.State.ACTIVE, "is_primary": True}),
    (factories.DomainFactory, {"state": Domain.State.VERIFIED}),
    (factories.PhotoFactory, {"pending": True}),
]


def project_models() -> list:
    """Concrete models of the apps in this repository, not Django's or an installed library's."""
    root = Path(settings.BASE_DIR).resolve()
    found = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(root) and "site-packages" not in path.parts:
            found.extend(model for model in config.get_models() if not model._meta.proxy)
    return found


def studios_named(row) -> set:
    """The studios a row belongs to: its own, and that of each studio-owned row it points at."""
    named = set()
    for field in row._meta.concrete_fields:
        if not field.is_relation:
            continue
        if field.related_model is Studio:
            if field.name == "studio":  # not taken_over_by, last_studio: other studios by design
                named.add(getattr(row, field.attname))
            continue
        target = getattr(row, field.name)
        if target is not None and hasattr(target, "studio_id"):
            named.add(target.studio_id)
    return named


def test_every_model_of_the_project_has_a_factory():
    models = project_models()
    assert {"accounts.User", "galleries.Photo", "guests.Favourite"} <= {
        model._meta.label for model in models
    }
    assert [model._meta.label for model in models if model not in FACTORIES] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "fields"),
    VARIANTS,
    ids=[f"{f._meta.model._meta.label}{'-' if kw else ''}{'-'.join(kw)}" for f, kw in VARIANTS],
)
def test_factory_saves_valid_rows_of_one_studio(factory, fields):
    first, second = factory(**fields), factory(**fields)

    assert first.pk != second.pk
    for row in (first, second):
        assert type(row).objects.filter(pk=row.pk).exists()
        row.full_clean()  # field validators, unique fields and the check constraints
        assert len(studios_named(row)) <= 1  # exactly one when the row has a studio
