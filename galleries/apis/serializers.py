"""Output shapes shared by several views (each view keeps its own input serializer).

Every object is exposed by its public UUID ``id``; related objects by their UUIDs
(``gallery_id``, ``album_id``, ``cover_photo_id``), never by internal integer ids.
"""

from __future__ import annotations

from rest_framework import serializers

from galleries.models import Gallery, Photo


class TagNamesField(serializers.ListField):
    """A gallery's tags as a list of names (ordered by the selector's prefetch)."""

    child = serializers.CharField()

    def to_representation(self, data):
        return [tag.name for tag in data.all()]


class GalleryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    event_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Gallery.Status.choices)
    published_at = serializers.DateTimeField(allow_null=True)
    archived_at = serializers.DateTimeField(allow_null=True)
    cover_photo_id = serializers.UUIDField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    tags = TagNamesField()
    notes = serializers.CharField()
    photo_count = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class GalleryPageSerializer(serializers.Serializer):
    results = GalleryOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class AlbumOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    position = serializers.IntegerField()
    photo_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AlbumListSerializer(serializers.Serializer):
    results = AlbumOutputSerializer(many=True)


class PhotoOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    album_id = serializers.UUIDField(allow_null=True)
    filename = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    captured_at = serializers.DateTimeField(allow_null=True)
    camera = serializers.CharField()
    checksum = serializers.CharField()
    state = serializers.ChoiceField(choices=Photo.State.choices)
    hidden = serializers.BooleanField()
    position = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PhotoPageSerializer(serializers.Serializer):
    results = PhotoOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class PhotoListSerializer(serializers.Serializer):
    results = PhotoOutputSerializer(many=True)


def page_data(page, serializer_class: type[serializers.Serializer]) -> dict:
    return {
        "results": serializer_class(page.items, many=True).data,
        "next": page.next_cursor,
        "previous": page.previous_cursor,
    }
