"""Admin for support staff: every studio's galleries and photos, built to stay fast at scale.

A studio can hold hundreds of thousands of photos, so nothing here may render a <select> of
all rows or run a query per listed row:
- every foreign key is an autocomplete or raw id widget, never a <select> of every row;
- changelists join their foreign keys (``list_select_related``) and skip the second, unfiltered
  ``COUNT(*)`` (``show_full_result_count = False``);
- filters have fixed choices (state, status, hidden, content type, dates): a ``list_filter`` on
  a foreign key or a free-text column would run ``SELECT DISTINCT`` over the whole table;
- denormalised counters are read-only: they are owned by the services' F() updates, and a hand
  edit here would silently drift from the rows they count.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from galleries.models import (
    Album,
    DownloadJob,
    Gallery,
    Photo,
    Tag,
    Upload,
    UploadBatch,
    Watermark,
)
from picpick.core.admin import StaffCanViewMixin

TIMESTAMPS = ("id", "created_at", "updated_at")


class _LinkCheckingForm(forms.ModelForm):
    """Refuses links across studios or galleries, which the search widgets let staff pick.

    No Meta here: the ModelAdmin builds the form's fields from its own fieldsets.
    """

    def _must_match(self, name: str, attr: str, expected_id, message: str) -> None:
        linked = self.cleaned_data.get(name)
        if linked is not None and expected_id is not None and getattr(linked, attr) != expected_id:
            self.add_error(name, message)


class ContentTypeFilter(admin.SimpleListFilter):
    """Fixed choices: the default filter would run SELECT DISTINCT over every photo."""

    title = "content type"
    parameter_name = "content_type"
    content_types = (
        ("image/jpeg", "JPEG"),
        ("image/png", "PNG"),
        ("image/heic", "HEIC"),
        ("image/webp", "WebP"),
        ("image/tiff", "TIFF"),
    )

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return self.content_types

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(content_type=self.value())
        return queryset


@admin.register(Tag)
class TagAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "studio", "created_at")
    list_select_related = ("studio",)
    search_fields = ("name", "=id")
    autocomplete_fields = ("studio",)
    readonly_fields = TIMESTAMPS
    ordering = ("-id",)
    show_full_result_count = False


class GalleryForm(_LinkCheckingForm):
    def clean(self):
        cleaned = super().clean()
        studio = cleaned.get("studio")
        # A new gallery has no photos yet, so no photo can be its cover.
        gallery_id = None if self.instance._state.adding else self.instance.pk
        cover = cleaned.get("cover_photo")
        if cover is not None and (gallery_id is None or cover.gallery_id != gallery_id):
            self.add_error("cover_photo", "The cover must be a photo of this gallery.")
        for tag in cleaned.get("tags") or ():
            if studio is not None and tag.studio_id != studio.pk:
                self.add_error("tags", f"The tag {tag.name!r} belongs to another studio.")
        return cleaned


@admin.register(Gallery)
class GalleryAdmin(StaffCanViewMixin, admin.ModelAdmin):
    form = GalleryForm
    list_display = (
        "name",
        "studio",
        "status",
        "photo_count",
        "storage_bytes",
        "event_date",
        "created_at",
    )
    list_select_related = ("studio",)
    list_filter = ("status", ("event_date", admin.DateFieldListFilter), "published_at")
    search_fields = ("name", "slug", "=id")
    # created_at has its own index, so the year/month links are an index scan.
    date_hierarchy = "created_at"
    autocomplete_fields = ("studio",)
    # Raw ids: a cover is picked among one gallery's photos, which a global search would not
    # narrow; tags are per studio, so an autocomplete would offer every studio's tags.
    raw_id_fields = ("cover_photo", "tags", "watermark")
    readonly_fields = (
        *TIMESTAMPS,
        "photo_count",
        "storage_bytes",
        "published_at",
        "archived_at",
    )
    ordering = ("-id",)
    show_full_result_count = False
    list_per_page = 100


class AlbumForm(_LinkCheckingForm):
    def clean(self):
        cleaned = super().clean()
        studio = cleaned.get("studio")
        self._must_match(
            "gallery", "studio_id", studio and studio.pk, "This gallery belongs to another studio."
        )
        return cleaned


@admin.register(Album)
class AlbumAdmin(StaffCanViewMixin, admin.ModelAdmin):
    form = AlbumForm
    list_display = ("name", "gallery", "studio", "position", "photo_count", "created_at")
    list_select_related = ("gallery", "studio")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("name", "=id")
    autocomplete_fields = ("studio", "gallery")
    readonly_fields = (*TIMESTAMPS, "photo_count")
    ordering = ("-id",)
    show_full_result_count = False


class PhotoForm(_LinkCheckingForm):
    def clean(self):
        cleaned = super().clean()
        studio, gallery = cleaned.get("studio"), cleaned.get("gallery")
        self._must_match(
            "gallery", "studio_id", studio and studio.pk, "This gallery belongs to another studio."
        )
        self._must_match(
            "album", "gallery_id", gallery and gallery.pk, "This album is in another gallery."
        )
        return cleaned


@admin.register(Photo)
class PhotoAdmin(StaffCanViewMixin, admin.ModelAdmin):
    form = PhotoForm
    list_display = ("filename", "gallery", "studio", "state", "size", "hidden", "created_at")
    list_select_related = ("gallery", "studio")
    list_filter = (
        "state",
        "hidden",
        ContentTypeFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    # id and checksum are exact matches (an index or a cheap comparison); the filename is
    # a substring search, which staff need for "IMG_1234" and which a page of 100 bounds.
    search_fields = ("filename", "=checksum", "=id")
    autocomplete_fields = ("studio", "gallery")
    raw_id_fields = ("album",)
    # The pipeline's fields are written by workers only; staff read them (and can requeue
    # through the API's reprocess action), never hand-edit them.
    readonly_fields = (
        *TIMESTAMPS,
        "size",
        "checksum",
        "width",
        "height",
        "content_type",
        "original_key",
        "derivatives",
        "exif",
        "watermark_version",
        "failure_code",
        "failure_message",
        "processing_started_at",
        "processed_at",
        "attempts",
    )
    # The id is a UUIDv7: newest first by primary key is a walk of the primary index.
    ordering = ("-id",)
    show_full_result_count = False
    list_per_page = 100


class ReadOnlyAdmin(StaffCanViewMixin, admin.ModelAdmin):
    """Rows the pipeline writes: staff look, services write."""

    show_full_result_count = False
    ordering = ("-id",)
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Watermark)
class WatermarkAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("name", "studio", "position", "opacity", "version", "updated_at")
    list_select_related = ("studio",)
    search_fields = ("name", "=id")
    autocomplete_fields = ("studio",)
    readonly_fields = (*TIMESTAMPS, "version")
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(UploadBatch)
class UploadBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "gallery", "studio", "declared_count", "declared_bytes", "created_at")
    list_select_related = ("gallery", "studio")
    search_fields = ("=id", "=gallery__id")
    raw_id_fields = ("studio", "gallery", "album", "created_by")


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ("filename", "state", "size", "gallery", "studio", "expires_at", "created_at")
    list_select_related = ("gallery", "studio")
    list_filter = ("state", ("created_at", admin.DateFieldListFilter))
    search_fields = ("filename", "=id", "=idempotency_key")
    raw_id_fields = ("studio", "gallery", "batch", "photo")


@admin.register(DownloadJob)
class DownloadJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "gallery", "studio", "size", "state", "file_count", "created_at")
    list_select_related = ("gallery", "studio")
    list_filter = ("state", "size")
    search_fields = ("=id", "=gallery__id")
    raw_id_fields = ("studio", "gallery", "album", "requested_by")
