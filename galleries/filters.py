"""Query-string filters of the list endpoints, validated like any other input.

A bad value (a malformed date, an unknown status or ordering, a page size that is not a number
or is over the maximum) is a 400 naming the parameter, never silently ignored: a client that
asks for ``status=publised`` must not get every gallery back.

The filters are DRF serializers read by ``filters_parse``, and the selectors apply the validated
dict; lists of other apps (faces, and the CRM to come) do the same. django-filter was tried for
these lists and dropped: its ``BooleanFilter`` reads ``hidden=maybe`` as "no filter" (the
silent ignore above), the paging parameters, the ``album`` id-or-``none`` value and the date
range check each needed a custom filter or form, the keyset paginator orders by itself so
``ordering`` would be a filter that does nothing, its querysets would be built in the filter
set instead of the selectors, and drf-spectacular documents its parameters only for views on
its backend, so every list would have spelled them out again. More code, a second way of
validating input, and one silent hole.
"""

from __future__ import annotations

import uuid

from rest_framework import serializers

from galleries.models import Gallery, Photo
from picpick.core.pagination import PageParams

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
