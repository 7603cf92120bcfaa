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
