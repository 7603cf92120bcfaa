"""Studio People API: a gallery's people and their photos, and the corrections made to a person.

Reads need GALLERY_VIEW, corrections GALLERY_EDIT. Every object is looked up through the
studio-scoped selectors, so another studio's person or gallery is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import Perm
from faces import selectors, services
from faces.apis.common import PEOPLE_TAGS, face_box, page_data, page_serializer
from faces.models import Person
from galleries.filters import filters_parse
from galleries.selectors import gallery_get
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams
from picpick.core.serializers import InputSerializer


# --- Output --------------------------------------------------------------------------------
class CoverSerializer(serializers.Serializer):
    face_id = serializers.UUIDField()
    photo_id = serializers.UUIDField()
    thumb_url = serializers.CharField(allow_null=True, help_text="Signed thumbnail URL.")
    box = serializers.ListField(
        child=serializers.IntegerField(), help_text="left, top, right, bottom in original px"
    )
    photo_width = serializers.IntegerField(allow_null=True)
    photo_height = serializers.IntegerField(allow_null=True)


class PersonOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    gallery_id = serializers.UUIDField()
    name = serializers.CharField()
    hidden = serializers.BooleanField()
    face_count = serializers.IntegerField()
    photo_count = serializers.IntegerField()
    cover = CoverSerializer(allow_null=True)


class PersonPhotoSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    thumb_url = serializers.CharField(allow_null=True)


class GroupingSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["off", "pending", "running", "done"],
        help_text=(
            "off: face recognition is switched off. pending: photos are still on their way to "
            "the face step, or faces wait for the next grouping run (it starts a little after "
            "the last photo of an upload). running: a grouping run is under way. done: every "
            "processed photo's faces were grouped; an empty list then means nobody was found."
        ),
    )
    photos_waiting = serializers.IntegerField(
        help_text="Photos still being processed or not yet searched for faces."
    )
    faces_waiting = serializers.IntegerField(help_text="Faces found but not yet grouped.")


def _people_data(people: list[Person]) -> list[dict]:
    covers = [p.cover_face for p in people]
    urls = selectors.thumb_urls([c.photo if c else None for c in covers])
    out = []
    for person, cover, url in zip(people, covers, urls, strict=True):
        out.append(
            {
                "id": person.id,
                "gallery_id": person.gallery_id,
                "name": person.name,
                "hidden": person.hidden,
                "face_count": person.face_count,
                "photo_count": person.photo_count,
                "cover": None
                if cover is None
                else {
                    "face_id": cover.id,
                    "photo_id": cover.photo_id,
                    "thumb_url": url,
                    "box": face_box(cover),
                    "photo_width": cover.photo.width,
                    "photo_height": cover.photo.height,
                },
            }
        )
    return out


def _photos_data(photos: list) -> list[dict]:
    urls = selectors.thumb_urls(photos)
    return [
        {"id": p.id, "position": p.position, "width": p.width, "height": p.height, "thumb_url": u}
        for p, u in zip(photos, urls, strict=True)
    ]


class PeopleFilters(PageParams):
    hidden = serializers.BooleanField(required=False, allow_null=True, default=None)


class PhotosWithFilters(PageParams):
    people = serializers.CharField(help_text="Comma-separated person ids: photos with ALL of them.")


# --- Gallery-level -------------------------------------------------------------------------
class PeopleListApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="people_list",
        summary="People of a gallery, largest first, with a cover face",
        description=(
            "People appear once their faces are grouped, a little after the photos are "
            "processed: `grouping` says whether that is still under way, so an empty list "
            "while `grouping.state` is `pending` or `running` means *not yet*, not *nobody*."
        ),
        parameters=[PeopleFilters],
        responses={
            200: inline_serializer(
                name="PersonPage",
                fields={
                    "results": PersonOutputSerializer(many=True),
                    "next": serializers.CharField(allow_null=True),
                    "previous": serializers.CharField(allow_null=True),
                    "grouping": GroupingSerializer(),
                },
            ),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PeopleFilters, request.query_params)
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.people_page(
            gallery=gallery,
            hidden=filters.get("hidden"),
            cursor=filters.get("cursor") or None,
            page_size=filters["page_size"],
        )
        grouping = GroupingSerializer(selectors.grouping_status(gallery=gallery)).data
        # The page body as every list answers it, and beside it the state of the grouping.
        body = page_data(page, _people_data(page.items), PersonOutputSerializer)
        return Response({**body, "grouping": grouping})


class PeopleReclusterApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="people_recluster",
        summary="Queue a full re-cluster of the gallery (debounced)",
        request=None,
        responses={
            202: inline_serializer("ReclusterQueued", {"queued": serializers.BooleanField()}),
            **error_responses(401, 403, 404),
        },
    )
    def post(self, request, gallery_id):
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        queued = services.gallery_cluster_schedule(gallery_id=gallery.id, full=True)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)


class PhotosWithPeopleApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="people_photos_with",
        summary="Photos in which all the given people appear (A AND B)",
        parameters=[PhotosWithFilters],
        responses={
            200: page_serializer("PeoplePhotoPage", PersonPhotoSerializer),
            **error_responses(400, 401, 403, 404, 422),
        },
    )
    def get(self, request, gallery_id):
        filters = filters_parse(PhotosWithFilters, request.query_params)
        gallery = gallery_get(studio=self.studio, gallery_id=gallery_id)
        page = selectors.photos_with_people_page(
            gallery=gallery,
            person_ids=selectors.parse_people_param(filters["people"]),
            cursor=filters.get("cursor") or None,
            page_size=filters["page_size"],
        )
        return Response(page_data(page, _photos_data(page.items), PersonPhotoSerializer))


# --- Person-level --------------------------------------------------------------------------
def _person_response(person: Person) -> Response:
    person = Person.objects.select_related("cover_face__photo").get(id=person.id)
    return Response(PersonOutputSerializer(_people_data([person])[0]).data)


class PersonDetailApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW, "PATCH": Perm.GALLERY_EDIT}

    class PersonUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=120, required=False, allow_blank=True)
        hidden = serializers.BooleanField(required=False)

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="person_get",
        summary="One person",
        responses={200: PersonOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, person_id):
        return _person_response(selectors.person_get(studio=self.studio, person_id=person_id))

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="person_update",
        summary="Rename, hide or unhide a person",
        request=PersonUpdateInputSerializer,
        responses={200: PersonOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, person_id):
        person = selectors.person_get(studio=self.studio, person_id=person_id)
        data = self.PersonUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "name" in data.validated_data:
            person = services.person_rename(person=person, name=data.validated_data["name"])
        if "hidden" in data.validated_data:
            person = services.person_set_hidden(person=person, hidden=data.validated_data["hidden"])
        return _person_response(person)


class PersonPhotosApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="person_photos",
        summary="Photos of a person (keyset-paginated, signed thumbnails)",
        parameters=[PageParams],
        responses={
            200: page_serializer("PersonPhotoPage", PersonPhotoSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, person_id):
        filters = filters_parse(PageParams, request.query_params)
        person = selectors.person_get(studio=self.studio, person_id=person_id)
        page = selectors.person_photos_page(
            person=person, cursor=filters.get("cursor") or None, page_size=filters["page_size"]
        )
        return Response(page_data(page, _photos_data(page.items), PersonPhotoSerializer))


class PersonMergeApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    class MergeInputSerializer(InputSerializer):
        into = serializers.UUIDField(help_text="The person this one is merged into.")

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="person_merge",
        summary="Merge this person into another (its faces become manual there)",
        request=MergeInputSerializer,
        responses={
            200: PersonOutputSerializer,
            **error_responses(
                400, 401, 403, 404, 422, e422="`different_galleries` or `same_person`."
            ),
        },
    )
    def post(self, request, person_id):
        source = selectors.person_get(studio=self.studio, person_id=person_id)
        data = self.MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = selectors.person_get(studio=self.studio, person_id=data.validated_data["into"])
        return _person_response(services.person_merge(source=source, target=target))


class PersonSplitApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_EDIT}

    class SplitInputSerializer(InputSerializer):
        face_ids = serializers.ListField(
            child=serializers.UUIDField(), min_length=1, max_length=1000
        )

    @extend_schema(
        tags=PEOPLE_TAGS,
        operation_id="person_split",
        summary="Move the given faces of this person to a new person",
        request=SplitInputSerializer,
        responses={
            201: PersonOutputSerializer,
            **error_responses(400, 401, 403, 404, 422, e422="`face_not_in_person`."),
        },
    )
    def post(self, request, person_id):
        person = selectors.person_get(studio=self.studio, person_id=person_id)
        data = self.SplitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.person_split(person=person, face_ids=data.validated_data["face_ids"])
        response = _person_response(new)
        response.status_code = status.HTTP_201_CREATED
        return response
