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


def default_download_sizes() -> list[str]:
    return ["web"]


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
    face_recognition_enabled = models.BooleanField(default=True)
    # Guests see watermarked previews when set; the studio always sees the clean ones.
    watermark = models.ForeignKey(
        "galleries.Watermark", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised counters, changed only with F() updates inside the writing transaction.
    photo_count = models.PositiveIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)

    # --- What guests get (the guests app enforces it) ---
    class Access(models.TextChoices):
        PUBLIC = "public", "Anyone with the link"
        PASSWORD = "password", "Password"
        PIN = "pin", "PIN"

    access = models.CharField(max_length=16, choices=Access.choices, default=Access.PUBLIC)
    access_secret = models.CharField(max_length=128, blank=True)  # hashed password or PIN
    # Bumped whenever access or its secret changes: every guest token issued before dies.
    access_version = models.PositiveIntegerField(default=1)
    listed = models.BooleanField(default=True)  # shown on the studio's home page
    require_registration = models.BooleanField(default=False)  # guests give an email first
    # Sizes guests may download: any of "original", "high", "web"; empty: no downloads.
    download_sizes = models.JSONField(default=default_download_sizes, blank=True)
    download_pin = models.CharField(max_length=128, blank=True)  # hashed; empty: none asked

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
    # --- media pipeline ---
    # Object key of the original, generated by the server from ids (never the client's name).
    original_key = models.CharField(max_length=500, blank=True)
    # What the processing step made: {"thumb": {"key", "width", "height", "bytes"}, "preview":
    # {...}, "preview_wm": {...}}; derivative keys live under a per-gallery folder apart from
    # the originals, so one signed wildcard URL policy for a page never reaches an original.
    derivatives = models.JSONField(default=dict, blank=True)
    # Lens, exposure, ISO, aperture, focal length read from EXIF (the original keeps all EXIF).
    exif = models.JSONField(default=dict, blank=True)
    # Version of the watermark burnt into ``derivatives["preview_wm"]`` (0 = none).
    watermark_version = models.PositiveIntegerField(default=0)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            # Keyset pagination of a gallery (and of an album) in its manual order.
            models.Index(fields=["gallery", "position", "id"], name="photo_order_idx"),
            models.Index(fields=["album", "position", "id"], name="photo_album_order_idx"),
            models.Index(fields=["gallery", "created_at", "id"], name="photo_created_idx"),
            models.Index(fields=["gallery", "filename", "id"], name="photo_filename_idx"),
            models.Index(fields=["gallery", "checksum"], name="photo_checksum_idx"),
            # The sweeper of stuck work: photos left in a state for too long.
            models.Index(fields=["state", "processing_started_at"], name="photo_state_idx"),
            # A gallery's live progress (counts and bytes per state) read from the index alone.
            models.Index(fields=["gallery", "state", "size"], name="photo_progress_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(width__isnull=True) | Q(width__gt=0), name="photo_width_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class Watermark(StudioOwnedModel):
    """A studio's watermark (text and/or a logo image), applied to guest previews."""

    class Position(models.TextChoices):
        TOP_LEFT = "top-left", "Top left"
        TOP_RIGHT = "top-right", "Top right"
        BOTTOM_LEFT = "bottom-left", "Bottom left"
        BOTTOM_RIGHT = "bottom-right", "Bottom right"
        CENTER = "center", "Center"
        TILE = "tile", "Tiled"

    name = models.CharField(max_length=100)
    text = models.CharField(max_length=100, blank=True)
    logo_key = models.CharField(max_length=500, blank=True)  # a PNG in object storage
    position = models.CharField(
        max_length=16, choices=Position.choices, default=Position.BOTTOM_RIGHT
    )
    opacity = models.FloatField(default=0.5)
    scale = models.FloatField(default=0.2)  # stamp width as a share of the image width
    # Bumped on every change; photos whose watermark_version differs are re-rendered.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(opacity__gte=0) & Q(opacity__lte=1), name="watermark_opacity_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UploadBatch(StudioOwnedModel):
    """One "start upload" call of the uploader: a set of files for a gallery (and album)."""

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="upload_batches")
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_count = models.PositiveIntegerField(default=0)
    declared_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "upload batches"
        indexes = [models.Index(fields=["gallery", "-created_at"], name="batch_gallery_idx")]


class Upload(StudioOwnedModel):
    """The upload of one file: the photo placeholder it fills and the storage upload behind it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for bytes"
        COMPLETED = "completed", "Completed"
        ABORTED = "aborted", "Aborted"
        EXPIRED = "expired", "Expired (cleaned up)"

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="uploads")
    # Null once an abandoned upload's placeholder photo was removed.
    photo = models.OneToOneField(
        Photo, null=True, blank=True, on_delete=models.SET_NULL, related_name="upload"
    )
    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # A client-chosen key per file: a retried start or complete returns the same upload.
    # NULL when not given (MySQL has no partial unique indexes; NULLs never collide).
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    filename = models.CharField(max_length=255)
    key = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    checksum_sha256 = models.CharField(max_length=64, blank=True)  # base64, as S3 takes it
    checksum_crc32c = models.CharField(max_length=16, blank=True)  # base64
    multipart_upload_id = models.CharField(max_length=1024, blank=True)  # blank: single PUT
    part_size = models.PositiveBigIntegerField(default=0)
    part_count = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()  # abandoned after this: cleaned up by the sweeper
    completed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["studio", "idempotency_key"], name="upload_unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="upload_sweep_idx"),
            models.Index(fields=["batch", "state"], name="upload_batch_idx"),
        ]


class DownloadJob(StudioOwnedModel):
    """A ZIP of a gallery or album, built by a worker into storage and offered as a link."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    class Size(models.TextChoices):
        ORIGINAL = "original", "Originals"
        HIGH = "high", "High resolution (preview)"
        WEB = "web", "Web size"

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="download_jobs")
    album = models.ForeignKey(
        Album, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_email = models.EmailField(blank=True)  # a guest (guest galleries issue)
    size = models.CharField(max_length=16, choices=Size.choices, default=Size.ORIGINAL)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    file_count = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    # Photos in scope left out (not processed yet, failed, or their object missing).
    files_skipped = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    result_key = models.CharField(max_length=500, blank=True)
    result_size = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["gallery", "-created_at"], name="download_gallery_idx"),
            models.Index(fields=["state", "expires_at"], name="download_sweep_idx"),
        ]
