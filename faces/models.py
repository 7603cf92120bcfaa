"""Faces found in photos, the people they are grouped into, and the studio's decisions.

Manual decisions are stored as data the clustering must respect, never as a side effect of one
run: a face assigned by hand (``assignment=manual``) stays with its person; "not this person"
is a ``FaceRejection`` row (a cannot-link); a merge or split is expressed as manual assignments
of the faces involved; names and hidden flags live on the person. Every re-cluster starts from
these rows, so corrections survive it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from picpick.core.models import StudioOwnedModel

EMBEDDING_DIM = 128
EMBEDDING_BYTES = EMBEDDING_DIM * 4  # float32


class GalleryFaceIndex(models.Model):
    """Per-gallery state of the face data: what changed and what the search index was built from."""

    gallery = models.OneToOneField(
        "galleries.Gallery", on_delete=models.CASCADE, primary_key=True, related_name="face_index"
    )
    studio = models.ForeignKey("accounts.Studio", on_delete=models.CASCADE, related_name="+")
    # Bumped under the row lock whenever faces or their people change: the selfie-search
    # matrix cached in a worker is valid only for the version it was built from.
    version = models.PositiveBigIntegerField(default=0)
    # Set when new faces arrived or a correction needs a re-cluster; a debounced task clears it.
    dirty = models.BooleanField(default=False)
    dirty_since = models.DateTimeField(null=True, blank=True)
    clustered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["dirty", "dirty_since"], name="faceindex_dirty_idx")]

    def __str__(self) -> str:
        return f"face index of {self.gallery_id} v{self.version}"


class PhotoFaceScan(models.Model):
    """Which version of the face step last stored a photo's faces.

    Written in the same transaction as the faces, so a row at the current version means the
    photo's faces are there; a photo made ``ready`` whose face step never committed (a worker
    killed between the two commits, a step that raised) has no row or an older one, and the
    face sweep re-runs the step for it. ``attempts`` counts the sweep's re-runs since the last
    success, so a photo the step keeps failing on is given up after a few.
    """

    photo = models.OneToOneField(
        "galleries.Photo", on_delete=models.CASCADE, primary_key=True, related_name="face_scan"
    )
    studio = models.ForeignKey("accounts.Studio", on_delete=models.CASCADE, related_name="+")
    gallery = models.ForeignKey("galleries.Gallery", on_delete=models.CASCADE, related_name="+")
    # 0 until the step first succeeds; then ``faces.pipeline.FACE_STEP_VERSION`` of that run.
    version = models.PositiveIntegerField(default=0)
    scanned_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["gallery", "version"], name="facescan_gallery_idx")]

    def __str__(self) -> str:
        return f"face scan of {self.photo_id} v{self.version}"


class Person(StudioOwnedModel):
    """A group of faces in one gallery (people are per event)."""

    gallery = models.ForeignKey("galleries.Gallery", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, blank=True)
    hidden = models.BooleanField(default=False)
    # Kept by the clustering service for the list page: no COUNT per person.
    face_count = models.PositiveIntegerField(default=0)
    photo_count = models.PositiveIntegerField(default=0)
    cover_face = models.ForeignKey(
        "faces.Face", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "people"
        indexes = [
            models.Index(fields=["gallery", "-face_count"], name="person_gallery_idx"),
        ]

    def __str__(self) -> str:
        return self.name or f"Person {self.id}"


class Face(StudioOwnedModel):
    class Assignment(models.TextChoices):
        AUTO = "auto", "Grouped automatically"
        MANUAL = "manual", "Assigned by the studio"
        NONE = "none", "Not assigned"

    photo = models.ForeignKey("galleries.Photo", on_delete=models.CASCADE, related_name="faces")
    gallery = models.ForeignKey("galleries.Gallery", on_delete=models.CASCADE, related_name="+")
    # Box in original-image pixels (upright).
    left = models.PositiveIntegerField()
    top = models.PositiveIntegerField()
    right = models.PositiveIntegerField()
    bottom = models.PositiveIntegerField()
    # 128 float32 values, little-endian: 512 raw bytes, not text.
    embedding = models.BinaryField(max_length=EMBEDDING_BYTES)
    # Quality signals: detector score, face height in original pixels, sharpness of the crop.
    score = models.FloatField(default=0.0)
    size = models.PositiveIntegerField(default=0)
    sharpness = models.FloatField(default=0.0)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="faces"
    )
    assignment = models.CharField(max_length=8, choices=Assignment.choices, default=Assignment.NONE)
    # Distance to its person's centre at the last clustering: the review queue shows faces
    # close to the threshold.
    distance = models.FloatField(null=True, blank=True)
    # Drawn by the studio around a face the detector missed.
    added_manually = models.BooleanField(default=False)
    # "Hide me": excluded from search and person lists, kept so the request keeps working
    # when the photo is reprocessed.
    hidden = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["gallery", "person"], name="face_gallery_person_idx"),
            models.Index(fields=["photo"], name="face_photo_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(right__gt=models.F("left")) & Q(bottom__gt=models.F("top")),
                name="face_box_not_empty",
            ),
        ]


class FaceRejection(StudioOwnedModel):
    """ "Not this person": the face must never be grouped into the person again."""

    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="rejections")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["face", "person"], name="face_rejection_unique"),
        ]


class HideRequest(StudioOwnedModel):
    """A guest's "hide me" request, recorded for the studio (no selfie or embedding is kept)."""

    gallery = models.ForeignKey("galleries.Gallery", on_delete=models.CASCADE, related_name="+")
    faces_hidden = models.PositiveIntegerField(default=0)
    email = models.EmailField(blank=True)
    client_hash = models.CharField(max_length=64, blank=True)  # salted hash of the address


class FaceDataDeletion(StudioOwnedModel):
    """Audit trail of face data deletions (kept after the data and its gallery are gone)."""

    class Reason(models.TextChoices):
        PHOTO_DELETED = "photo_deleted", "Photo deleted"
        GALLERY_DELETED = "gallery_deleted", "Gallery deleted"
        GALLERY_DISABLED = "gallery_disabled", "Face recognition switched off for the gallery"
        STUDIO_DISABLED = "studio_disabled", "Face recognition switched off for the studio"
        RETENTION = "retention", "Retention period after the gallery expired"
        HIDE_ME = "hide_me", "Guest asked to be hidden"

    # Plain ids, not foreign keys: the audit row outlives the gallery it speaks of.
    gallery_id_ref = models.UUIDField()
    photo_id_ref = models.UUIDField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    faces_deleted = models.PositiveIntegerField(default=0)
    people_deleted = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["studio", "-created_at"], name="facedeletion_idx")]
