"""Output shapes shared by several views (each view keeps its own input serializer).

Every object is exposed by its public UUID ``id``; related objects by their UUIDs
(``gallery_id``, ``album_id``, ``cover_photo_id``), never by internal integer ids.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from galleries.models import Gallery, Photo
from galleries.selectors.delivery import gallery_cover_thumb_urls, photo_urls_many
from picpick.core.pagination import page_body


class TagNamesField(serializers.ListField):
    """A gallery's tags as a list of names (ordered by the selector's prefetch)."""

    child = serializers.CharField()

    def to_representation(self, data):
        return [tag.name for tag in data.all()]


def _items(data) -> list:
    return list(data.all() if hasattr(data, "all") else data)


class GalleryListOutputSerializer(serializers.ListSerializer):
    """Signs the cover thumbnails of a whole page at once (one query, one presign call)."""

    def to_representation(self, data):
        galleries = _items(data)
        urls = gallery_cover_thumb_urls(galleries=galleries)
        for gallery in galleries:
            gallery.cover_thumb_url = urls[gallery.id]
        return super().to_representation(galleries)


class GalleryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    event_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Gallery.Status.choices)
    published_at = serializers.DateTimeField(allow_null=True)
    archived_at = serializers.DateTimeField(allow_null=True)
    cover_photo_id = serializers.UUIDField(allow_null=True)
    cover_thumb_url = serializers.SerializerMethodField(
        help_text="Short-lived URL of the cover's thumbnail (the chosen cover, else the first "
        "photo guests see); null when that has no thumbnail yet."
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    tags = TagNamesField()
    notes = serializers.CharField()
    watermark_id = serializers.UUIDField(
        allow_null=True, help_text="Guests see previews stamped with it; null for none."
    )
    photo_count = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    face_recognition_enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        list_serializer_class = GalleryListOutputSerializer

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_cover_thumb_url(self, gallery: Gallery) -> str | None:
        if not hasattr(gallery, "cover_thumb_url"):
            gallery.cover_thumb_url = gallery_cover_thumb_urls(galleries=[gallery])[gallery.id]
        return gallery.cover_thumb_url


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


class PhotoUrlsSerializer(serializers.Serializer):
    """Short-lived GET URLs of the photo's derivatives; null until processing made them."""

    thumb = serializers.URLField(allow_null=True, help_text="~400 px JPEG.")
    preview = serializers.URLField(allow_null=True, help_text="~2048 px JPEG.")

    def to_representation(self, photo):
        urls = getattr(photo, "delivery_urls", None)
        if urls is None:  # a single photo (detail, create): signed alone
            urls = photo_urls_many(photos=[photo])[0]
        return urls


class PhotoListOutputSerializer(serializers.ListSerializer):
    """Signs a whole page with one presign call per derivative kind, never one per photo."""

    def to_representation(self, data):
        photos = _items(data)
        for photo, urls in zip(photos, photo_urls_many(photos=photos), strict=True):
            photo.delivery_urls = urls
        return super().to_representation(photos)


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
    failure_code = serializers.CharField(help_text="Why processing failed; empty otherwise.")
    failure_message = serializers.CharField()
    urls = PhotoUrlsSerializer(source="*", read_only=True)
    hidden = serializers.BooleanField()
    position = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        list_serializer_class = PhotoListOutputSerializer


class PhotoPageSerializer(serializers.Serializer):
    results = PhotoOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class PhotoListSerializer(serializers.Serializer):
    results = PhotoOutputSerializer(many=True)


def page_data(page, serializer_class: type[serializers.Serializer]) -> dict:
    return page_body(page, serializer_class(page.items, many=True).data)
