"""Galleries (an event), albums inside them, and photos (metadata; bytes live in storage)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from picpick.core.models import StudioOwnedModel


class Tag(StudioOwnedModel):
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["studio", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Gallery(StudioOwnedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    event_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    cover_photo = models.ForeignKey(
        "galleries.Photo", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="galleries")
    notes = models.TextField(blank=True)
    # Denormalised counters, changed only with F() updates inside the writing transaction.
    photo_count = models.PositiveIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "galleries"
        constraints = [
            models.UniqueConstraint(fields=["studio", "slug"], name="gallery_unique_slug"),
        ]
        indexes = [
            models.Index(fields=["studio", "status", "-created_at"], name="gallery_status_idx"),
            models.Index(fields=["studio", "event_date"], name="gallery_event_date_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Album(StudioOwnedModel):
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="albums")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    photo_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["gallery", "position", "id"]
        indexes = [models.Index(fields=["gallery", "position", "id"], name="album_order_idx")]

    def __str__(self) -> str:
        return self.name


class Photo(StudioOwnedModel):
    class State(models.TextChoices):
        PENDING = "pending", "Pending upload"
        UPLOADED = "uploaded", "Uploaded"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="photos")
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.SET_NULL, related_name="photos"
    )
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    camera = models.CharField(max_length=120, blank=True)
    checksum = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    hidden = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # Keyset pagination of a gallery (and of an album) in its manual order.
            models.Index(fields=["gallery", "position", "id"], name="photo_order_idx"),
            models.Index(fields=["album", "position", "id"], name="photo_album_order_idx"),
            models.Index(fields=["gallery", "created_at", "id"], name="photo_created_idx"),
            models.Index(fields=["gallery", "filename", "id"], name="photo_filename_idx"),
            models.Index(fields=["gallery", "checksum"], name="photo_checksum_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(width__isnull=True) | Q(width__gt=0), name="photo_width_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class StudioUsage(models.Model):
    """Per-studio totals, one row per studio, changed with F() updates under the row lock."""

    studio = models.OneToOneField(
        "accounts.Studio", on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    gallery_count = models.PositiveIntegerField(default=0)
    photo_count = models.PositiveBigIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "studio usage"

    def __str__(self) -> str:
        return f"usage of {self.studio_id}"
