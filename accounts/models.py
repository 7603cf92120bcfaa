"""Users, studios (the tenant), memberships with roles, and invitations."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from picpick.core.models import BaseModel


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log in to the admin site.")
    # Bumped on password change and "log out everywhere": every token issued before carries an
    # older version and is refused, access tokens included.
    token_version = models.PositiveIntegerField(default=0)
    last_studio = models.ForeignKey(
        "accounts.Studio", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Studio(BaseModel):
    class Plan(models.TextChoices):
        FREE = "free", "Free"
        PRO = "pro", "Pro"
        BUSINESS = "business", "Business"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=63, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_currency = models.CharField(max_length=3, default="USD")
    # How money and dates are written for the studio and its clients (a CLDR locale: "en",
    # "de_DE", "pt_BR"), read by Babel.
    locale = models.CharField(max_length=20, default="en")
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    # Face recognition for the whole studio; each gallery can also switch it off. Turning it off
    # deletes the face data it made (faces.services).
    face_recognition_enabled = models.BooleanField(default=True)
    # Face data of a gallery is deleted this many days after the gallery expires.
    face_retention_days = models.PositiveIntegerField(default=30)
    # The logo on the studio's site (a PNG in object storage; guests.services sets it).
    logo_key = models.CharField(max_length=500, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    PHOTOGRAPHER = "photographer", "Photographer"
    ASSISTANT = "assistant", "Assistant"


class Membership(BaseModel):
    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["studio", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.studio_id} as {self.role}"


class Invitation(BaseModel):
    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    # Only a hash of the token is stored: a database leak must not hand out invitations.
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(Lower("email"), "studio", name="invitation_email_idx")]

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class StudioUsage(models.Model):
    """Per-studio totals, one row per studio, changed with F() updates under the row lock.

    Owned here, with the studio; galleries keeps the figures up to date through
    ``accounts.services.studio_usage_*`` as it adds and removes photos."""

    studio = models.OneToOneField(
        Studio, on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    gallery_count = models.PositiveIntegerField(default=0)
    photo_count = models.PositiveBigIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "studio usage"

    def __str__(self) -> str:
        return f"usage of {self.studio_id}"
