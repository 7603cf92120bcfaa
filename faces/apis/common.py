"""What the studio's faces views share: the page body and its documented shape, a face's box,
the people tag."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from faces.models import Face
from picpick.core.pagination import page_body

PEOPLE_TAGS = ["people"]


def page_serializer(name: str, item: type[serializers.Serializer]):
    """The documented shape of a page of ``item`` (named ``name`` in the schema)."""
    return inline_serializer(
        name=name,
        fields={
            "results": item(many=True),
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
        },
    )


def page_data(page, rows: list[dict], serializer: type[serializers.Serializer]) -> dict:
    """The page body of ``rows``, each shown through ``serializer``."""
    return page_body(page, serializer(rows, many=True).data)


def face_box(face: Face) -> list[int]:
    return [face.left, face.top, face.right, face.bottom]
