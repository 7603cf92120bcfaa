"""Query-string filters of the list endpoints, validated like any other input.

A bad value (a malformed date, an unknown status or ordering, a page size that is not a number
or is over the maximum) is a 400 naming the parameter, never silently ignored: a client that
asks for ``status=publised`` must not get every gallery back.
"""

from __future__ import annotations

import uuid

from rest_framework import serializers

from galleries.models import Gallery, Photo
from picpick.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

GALLERY_ORDERINGS = ["-created_at", "created_at", "event_date", "-event_date", "name", "-name"]
PHOTO_ORDERINGS = [
    "position",
    "-position",
    "created_at",
    "-created_at",
    "filename",
    "-filename",
    "size",
    "-size",
]


class PageParams(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )


class GalleryListFilters(PageParams):
    status = serializers.ChoiceField(choices=Gallery.Status.choices, required=False)
    event_date_from = serializers.DateField(required=False)
    event_date_to = serializers.DateField(required=False)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=50)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    ordering = serializers.ChoiceField(choices=GALLERY_ORDERINGS, default="-created_at")

    def validate(self, attrs):
        start, end = attrs.get("event_date_from"), attrs.get("event_date_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"event_date_to": ["Must not be before event_date_from."]}
            )
        return attrs


class AlbumFilterField(serializers.CharField):
    """An album id, or ``none`` for the photos outside any album."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value.lower() == "none":
            return "none"
        try:
            return uuid.UUID(value)
        except ValueError as exc:
            raise serializers.ValidationError("Must be an album id or 'none'.") from exc


class PhotoListFilters(PageParams):
    album = AlbumFilterField(required=False)
    state = serializers.ChoiceField(choices=Photo.State.choices, required=False)
    hidden = serializers.BooleanField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    ordering = serializers.ChoiceField(choices=PHOTO_ORDERINGS, default="position")


def filters_parse(serializer_class: type[serializers.Serializer], query_params) -> dict:
    """Validated filters from a request's query string (a plain dict: with a QueryDict DRF
    would read an absent boolean as False)."""
    serializer = serializer_class(data=query_params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
