"""Studio Faces API: a gallery's unassigned faces and review queue, a face drawn by hand, and the
corrections made to one face.

Reads need GALLERY_VIEW, corrections GALLERY_EDIT. Every object is looked up through the
studio-scoped selectors, so another studio's face, person, photo or gallery is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from faces import selectors, services
from faces.apis.common import PEOPLE_TAGS, face_box, page_data, page_serializer
from faces.models import Face
from galleries.filters import filters_parse
from galleries.selectors import gallery_get, photo_get
from picpick.core.apis import StudioAPIView
from picpick.core.errors import NotFound
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams
from picpick.core.serializers import InputSerializer


# --- Output --------------------------------------------------------------------------------
class FaceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    photo_id = serializers.UUIDField()
    person_id = serializers.UUIDField(allow_null=True)
    assignment = serializers.ChoiceField(choices=Face.Assignment.choices)
    distance = serializers.FloatField(allow_null=True)
    box = serializers.ListField(child=serializers.IntegerField())
    size = serializers.IntegerField()
    added_manually = serializers.BooleanField()
    thumb_url = serializers.CharField(allow_null=True)


def _faces_data(faces: list[Face]) -> list[dict]:
    urls = selectors.thumb_urls([f.photo for f in faces])
    return [
        {
            "id": f.id,
            "photo_id": f.photo_id,
            "person_id": f.person_id,
            "assignment": f.assignment,
            "distance": f.distance,
            "box": face_box(f),
            "size": f.size,
            "added_manually": f.added_manually,
            "thumb_url": url,
        }
        for f, url in zip(faces, urls, strict=True)
    ]


# --- Gallery-level -------------------------------------------------------------------------
class FaceReviewApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="faces_review",
        summary="Review queue: automatic assignments near the threshold",
        parameters=[PageParams],
        responses={
            200: page_serializer("ReviewFacePage", FaceOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PageParams, request.query_params)
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.review_page(
            gallery=gallery, cursor=filters.get("cursor") or None, page_size=filters["page_size"]
        )
        return Response(page_data(page, _faces_data(page.items), FaceOutputSerializer))


class FaceListApi(StudioAPIView):
    """Unassigned faces (GET) and a face drawn by hand on a photo (POST)."""

    permissions = {"GET": Perm.GALLERY_VIEW, "POST": Perm.GALLERY_EDIT}

    class FaceAddInputSerializer(InputSerializer):
        photo_id = serializers.UUIDField()
        box = serializers.ListField(
            child=serializers.IntegerField(min_value=0),
            min_length=4,
            max_length=4,
            help_text="left, top, right, bottom in original-photo pixels",
        )
        person_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="faces_unassigned",
        summary="Faces of the gallery not in any person",
        parameters=[PageParams],
        responses={
            200: page_serializer("UnassignedFacePage", FaceOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PageParams, request.query_params)
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.unassigned_page(
            gallery=gallery, cursor=filters.get("cursor") or None, page_size=filters["page_size"]
        )
        return Response(page_data(page, _faces_data(page.items), FaceOutputSerializer))

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="faces_add",
        summary="Add a face the detector missed, by its box (optionally to a person)",
        request=FaceAddInputSerializer,
        responses={
            201: FaceOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422,
                e409="`person_hidden` or `photo_not_processed`.",
                e422="`box_outside_photo` or `different_galleries`.",
            ),
        },
    )  # fmt: skip
    def post(self, request, gallery_id):
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        data = self.FaceAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = photo_get(studio=self.studio, photo_id=data.validated_data["photo_id"])
        if photo.gallery_id != gallery.id:
            raise NotFound("Photo not found.")
        person = None
        if data.validated_data.get("person_id"):
            person = selectors.person_get(
                studio=self.studio, person_id=data.validated_data["person_id"]
            )
        face = services.face_add_manual(
            photo=photo, box=tuple(data.validated_data["box"]), person=person
        )
        face.photo = photo
        return Response(
            FaceOutputSerializer(_faces_data([face])[0]).data, status=status.HTTP_201_CREATED
        )


# --- Face-level ----------------------------------------------------------------------------
def _face_response(face: Face) -> Response:
    face = Face.objects.select_related("photo").get(id=face.id)
    return Response(FaceOutputSerializer(_faces_data([face])[0]).data)


class FaceRemoveApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="face_remove",
        summary="Not this person: remove the face from its person (also the review 'reject')",
        request=None,
        responses={
            200: FaceOutputSerializer,
            **error_responses(401, 403, 404, 422, e422="`face_not_assigned`."),
        },
    )
    def post(self, request, face_id):
        face = selectors.face_get(studio=self.studio, face_id=face_id)
        return _face_response(services.face_remove_from_person(face=face))


class FaceConfirmApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="face_confirm",
        summary="Review: the automatic assignment is right (it becomes manual)",
        request=None,
        responses={
            200: FaceOutputSerializer,
            **error_responses(401, 403, 404, 422, e422="`face_not_assigned`."),
        },
    )
    def post(self, request, face_id):
        face = selectors.face_get(studio=self.studio, face_id=face_id)
        return _face_response(services.face_confirm(face=face))


class FaceAssignApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    class AssignInputSerializer(InputSerializer):
        person_id = serializers.UUIDField()

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="face_assign",
        summary="Assign a face to a person by hand",
        request=AssignInputSerializer,
        responses={
            200: FaceOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 409, 422,
                e409="`person_hidden`.", e422="`different_galleries`.",
            ),
        },
    )  # fmt: skip
    def post(self, request, face_id):
        face = selectors.face_get(studio=self.studio, face_id=face_id)
        data = self.AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = selectors.person_get(
            studio=self.studio, person_id=data.validated_data["person_id"]
        )
        return _face_response(services.face_assign(face=face, person=person))


class FaceRejectApi(FaceRemoveApi):
    """The review queue's one-click "reject": the same decision as removing the face."""

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="face_reject",
        summary="Review: the automatic assignment is wrong (a rejection; the face is unassigned)",
        request=None,
        responses={
            200: FaceOutputSerializer,
            **error_responses(401, 403, 404, 422, e422="`face_not_assigned`."),
        },
    )
    def post(self, request, face_id):
        return super().post(request, face_id)
