from django.contrib import admin

from faces.models import Face, FaceRejection, GalleryFaceIndex, Person
from picpick.core.admin import StaffCanViewMixin


@admin.register(GalleryFaceIndex)
class GalleryFaceIndexAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("gallery", "version", "dirty", "dirty_since", "clustered_at")
    list_filter = ("dirty",)
    raw_id_fields = ("gallery", "studio")


@admin.register(Person)
class PersonAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("id", "name", "gallery", "face_count", "photo_count", "hidden")
    list_filter = ("hidden",)
    raw_id_fields = ("gallery", "studio", "cover_face")


@admin.register(Face)
class FaceAdmin(StaffCanViewMixin, admin.ModelAdmin):
    # The embedding is 512 raw bytes: never rendered in a form.
    exclude = ("embedding",)
    list_display = ("id", "photo", "person", "assignment", "distance", "size", "hidden")
    list_filter = ("assignment", "hidden", "added_manually")
    raw_id_fields = ("photo", "gallery", "studio", "person")


@admin.register(FaceRejection)
class FaceRejectionAdmin(StaffCanViewMixin, admin.ModelAdmin):
    list_display = ("face", "person", "created_at")
    raw_id_fields = ("face", "person", "studio")
