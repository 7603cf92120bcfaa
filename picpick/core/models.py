"""Base models shared by every app."""

from __future__ import annotations

from django.db import models

from picpick.core.ids import uuid7


class BaseModel(models.Model):
    """A public row: random time-ordered id and aware timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class StudioOwnedModel(BaseModel):
    """A row that belongs to one studio. Every read of it goes through a studio-scoped selector."""

    studio = models.ForeignKey("accounts.Studio", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    """A row of an append-only table was about to be changed or deleted."""


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses the queryset writes that bypass ``save`` and ``delete`` (``update()``,
    ``delete()``, and ``bulk_update``, which updates through them). For tables nothing may
    rewrite, such as the billing ledger; ``bulk_create`` still appends."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")

    delete.queryset_only = True  # as Django's own: not copied onto the manager


class AppendOnlyModel(StudioOwnedModel):
    """Written once: corrections are new rows.

    ``save`` of an existing row and ``delete`` raise. Whether queryset writes are refused too is
    the model's manager's choice: ``AppendOnlyQuerySet.as_manager()`` refuses them (the ledger);
    a plain manager leaves them to the owning service (the CRM's timeline, whose contact merge
    re-points rows at the surviving contact: whose history it is changes, not the history).
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")
