from django.urls import path

from faces.apis.faces import (
    FaceAssignApi,
    FaceConfirmApi,
    FaceListApi,
    FaceRejectApi,
    FaceRemoveApi,
    FaceReviewApi,
)
from faces.apis.people import (
    PeopleListApi,
    PeopleReclusterApi,
    PersonDetailApi,
    PersonMergeApi,
    PersonPhotosApi,
    PersonSplitApi,
    PhotosWithPeopleApi,
)
from faces.apis.selfie import HideRequestListApi, StudioSelfieSearchApi

urlpatterns = [
    # People (PEOPLE)
    path("galleries/<uuid:gallery_id>/people/", PeopleListApi.as_view(), name="people-list"),
    path(
        "galleries/<uuid:gallery_id>/people/recluster/",
        PeopleReclusterApi.as_view(),
        name="people-recluster",
    ),
    path(
        "galleries/<uuid:gallery_id>/people/photos/",
        PhotosWithPeopleApi.as_view(),
        name="people-photos-with",
    ),
    path("galleries/<uuid:gallery_id>/faces/", FaceListApi.as_view(), name="faces-list"),
    path(
        "galleries/<uuid:gallery_id>/faces/review/",
        FaceReviewApi.as_view(),
        name="faces-review",
    ),
    path("people/<uuid:person_id>/", PersonDetailApi.as_view(), name="person-detail"),
    path("people/<uuid:person_id>/photos/", PersonPhotosApi.as_view(), name="person-photos"),
    path("people/<uuid:person_id>/merge/", PersonMergeApi.as_view(), name="person-merge"),
    path("people/<uuid:person_id>/split/", PersonSplitApi.as_view(), name="person-split"),
    path("faces/<uuid:face_id>/assign/", FaceAssignApi.as_view(), name="face-assign"),
    path("faces/<uuid:face_id>/remove/", FaceRemoveApi.as_view(), name="face-remove"),
    path("faces/<uuid:face_id>/confirm/", FaceConfirmApi.as_view(), name="face-confirm"),
    path("faces/<uuid:face_id>/reject/", FaceRejectApi.as_view(), name="face-reject"),
    path(
        "galleries/<uuid:gallery_id>/selfie-search/",
        StudioSelfieSearchApi.as_view(),
        name="gallery-selfie-search",
    ),
    path(
        "galleries/<uuid:gallery_id>/hide-requests/",
        HideRequestListApi.as_view(),
        name="gallery-hide-requests",
    ),
]
