"""The HTTP side of a selfie, shared by the studio's selfie search (faces) and the guests'
search and hide-me (guests): the upload kept in memory and capped, the input and output
serializers, the documented errors."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from rest_framework import serializers

from faces import services
from picpick.core.serializers import InputSerializer

# Room for the multipart framing and the other fields around the file.
MULTIPART_OVERHEAD = 64 * 1024
SELFIE_BODY_BYTES = settings.PICPICK_SELFIE_MAX_BYTES + MULTIPART_OVERHEAD


class _SelfieUploadHandler(MemoryFileUploadHandler):
    """Keeps the upload in memory whatever its size (the selfie never touches the disk) and
    stops reading as soon as the file passes the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True

    def new_file(self, *args, **kwargs):
        self.received = 0
        super().new_file(*args, **kwargs)  # raises StopFutureHandlers: no other handler runs

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.PICPICK_SELFIE_MAX_BYTES:
            raise services.SelfieTooLarge(too_large_message())
        return super().receive_data_chunk(raw_data, start)


def too_large_message() -> str:
    return f"The selfie is larger than {settings.PICPICK_SELFIE_MAX_BYTES // (1024 * 1024)} MB."


def selfie_upload_prepare(django_request) -> None:
    """413 before reading a body that declares more than the limit; else the in-memory
    handler, installed before anything (the CSRF check included) reads the body."""
    if getattr(django_request, "_selfie_handler_set", False):
        return
    declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.PICPICK_SELFIE_MAX_BYTES + MULTIPART_OVERHEAD:
        raise services.SelfieTooLarge(too_large_message())
    django_request.upload_handlers = [_SelfieUploadHandler(django_request)]
    django_request._selfie_handler_set = True


def selfie_bytes(request, serializer_class) -> tuple[bytes, dict]:
    """The uploaded selfie's bytes and the validated fields; 413 before reading a body that
    declares more than the limit."""
    selfie_upload_prepare(request._request)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    upload = serializer.validated_data.pop("selfie")
    if upload.size > settings.PICPICK_SELFIE_MAX_BYTES:
        raise services.SelfieTooLarge(too_large_message())
    return upload.read(), serializer.validated_data


class SelfieInputSerializer(InputSerializer):
    selfie = serializers.FileField(
        help_text="A JPEG, PNG or HEIC photo with the guest's face (≤ 10 MB). Not stored."
    )


class HideMeInputSerializer(SelfieInputSerializer):
    email = serializers.EmailField(
        required=False, default="", help_text="Where the studio may confirm (optional)."
    )


class MatchedPersonSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class PhotoMatchSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="photo_id")
    distance = serializers.FloatField(help_text="Euclidean distance of the closest face.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    thumb_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)


class SelfieSearchOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    faces_in_selfie = serializers.IntegerField(
        help_text="Faces found in the selfie; the largest one is searched."
    )
    matched_person = MatchedPersonSerializer(
        allow_null=True,
        help_text="The studio's person group most matches belong to (more than half), or null.",
    )
    photos = PhotoMatchSerializer(many=True, help_text="Nearest first.")


class HideMeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    faces_hidden = serializers.IntegerField()


SELFIE_ERRORS = {
    "e400": "`unreadable_image` (not a JPEG/PNG/HEIC or broken), `validation_error`.",
    "e409": "`face_search_off`: face recognition is off for the studio or the gallery.",
    "e413": "`payload_too_large`: the selfie is over 10 MB.",
    "e422": "`no_face`, `image_too_small`, `too_many_pixels` (includes decompression bombs).",
}
