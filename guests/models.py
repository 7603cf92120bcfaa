"""What guests leave behind: who visited a gallery, and their favourite lists.

A guest has no account: an email given on the gallery (``Visitor``) and a signed token that
names it (``guests.access``). Everything is per gallery and owned by the gallery's studio.
"""

from __future__ import annotations

from django.db import models

from picpick.core.models import StudioOwnedModel


class Visitor(StudioOwnedModel):
    gallery = models.ForeignKey(
        "galleries.Gallery", on_delete=models.CASCADE, related_name="visitors"
    )
    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    visits = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField()
    # The guest ticked "keep me posted" when registering (off by default); when they first did.
    marketing_opt_in = models.BooleanField(default=False)
    marketing_opt_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gallery", "email"], name="visitor_unique_email")
        ]
        indexes = [models.Index(fields=["gallery", "-last_seen_at"], name="visitor_recent_idx")]

    def __str__(self) -> str:
        return self.email


class FavouriteList(StudioOwnedModel):
    gallery = models.ForeignKey(
        "galleries.Gallery", on_delete=models.CASCADE, related_name="favourite_lists"
    )
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="lists")
    name = models.CharField(max_length=80, default="Favourites")
    item_count = models.PositiveIntegerField(default=0)  # changed with F() under the list lock

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visitor", "name"], name="favlist_unique_name")
        ]
        indexes = [models.Index(fields=["gallery", "created_at"], name="favlist_gallery_idx")]

    def __str__(self) -> str:
        return self.name


class Favourite(StudioOwnedModel):
    favourite_list = models.ForeignKey(
        FavouriteList, on_delete=models.CASCADE, related_name="items"
    )
    photo = models.ForeignKey("galleries.Photo", on_delete=models.CASCADE, related_name="+")
    comment = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["favourite_list", "photo"], name="favourite_unique")
        ]
        indexes = [
            models.Index(fields=["favourite_list", "created_at", "id"], name="favourite_order_idx")
        ]
