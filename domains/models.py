"""Custom domains of studios.

A studio's site is always on ``<slug>.<PICPICK_BASE_DOMAIN>``; a ``Domain`` row adds one of the
studio's own hostnames. Its life: ``pending`` (records asked for) -> ``verified`` (the TXT
record proved ownership) -> ``active`` (the CNAME or A/AAAA records point at our edge: it is
served and gets certificates), or ``failed`` with a reason (never verified in time, records
removed for longer than the grace period, or taken over by another studio).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from picpick.core.models import StudioOwnedModel

TXT_LABEL = "_picpick-challenge"


class Domain(StudioOwnedModel):
    class Kind(models.TextChoices):
        SUBDOMAIN = "subdomain", "Subdomain (CNAME)"
        APEX = "apex", "Apex (A/AAAA)"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"

    # States in which the studio holds the hostname: one row per hostname across all studios.
    HELD = (State.VERIFIED, State.ACTIVE)

    hostname = models.CharField(max_length=253, help_text="Normalised: lower case, punycode.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    challenge_token = models.CharField(max_length=64)
    is_primary = models.BooleanField(default=False)
    # MariaDB/MySQL have no partial unique indexes ("unique where state in ..."). These columns
    # carry a value only while the rule applies and NULL otherwise (NULLs never collide in a
    # unique index); the check constraints below keep them in step with state and is_primary.
    held_hostname = models.CharField(max_length=253, null=True, blank=True, unique=True)
    primary_of = models.UUIDField(null=True, blank=True, unique=True)

    # The current verification window started here (the add, or a retry of a failed domain).
    verify_started_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Due for a check (verification or re-check); NULL: never checked automatically (failed).
    # A check claims its row by moving this forward with a conditional UPDATE.
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_attempts = models.PositiveIntegerField(default=0)
    # What the last check found missing, in words (shown while pending, verified or in grace).
    check_detail = models.CharField(max_length=500, blank=True)
    records_missing_since = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    taken_over_by = models.ForeignKey(
        "accounts.Studio", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["studio", "hostname"], name="domain_unique_per_studio"),
            models.CheckConstraint(
                # "IS NOT NULL" spelled out: NULL = hostname is unknown, and a CHECK that
                # evaluates to unknown passes.
                condition=(
                    Q(
                        state__in=["verified", "active"],
                        held_hostname__isnull=False,
                        held_hostname=F("hostname"),
                    )
                    | (~Q(state__in=["verified", "active"]) & Q(held_hostname__isnull=True))
                ),
                name="domain_held_while_verified_or_active",
            ),
            models.CheckConstraint(
                condition=(
                    Q(is_primary=True, primary_of__isnull=False, primary_of=F("studio_id"))
                    | Q(is_primary=False, primary_of__isnull=True)
                ),
                name="domain_one_primary_per_studio",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_check_at"], name="domain_due_idx")]

    def __str__(self) -> str:
        return self.hostname

    @property
    def txt_name(self) -> str:
        return f"{TXT_LABEL}.{self.hostname}"
