from django.urls import path

from faces import apis, search_apis

urlpatterns = [
    # People (PEOPLE)
    path("galleries/<uuid:gallery_id>/people/", apis.PeopleListApi.as_view(), name="people-list"),
    path(
        "galleries/<uuid:gallery_id>/people/recluster/",
        apis.PeopleReclusterApi.as_view(),
        name="people-recluster",
    ),
    path(
        "galleries/<uuid:gallery_id>/people/photos/",
        apis.PhotosWithPeopleApi.as_view(),
        name="people-photos-with",
    ),
    path("galleries/<uuid:gallery_id>/faces/", apis.FaceListApi.as_view(), name="faces-list"),
    path(
        "galleries/<uuid:gallery_id>/faces/review/",
        apis.FaceReviewApi.as_view(),
        name="faces-review",
    ),
    path("people/<uuid:person_id>/", apis.PersonDetailApi.as_view(), name="person-detail"),
    path("people/<uuid:person_id>/photos/", apis.PersonPhotosApi.as_view(), name="person-photos"),
    path("people/<uuid:person_id>/merge/", apis.PersonMergeApi.as_view(), name="person-merge"),
    path("people/<uuid:person_id>/split/", apis.PersonSplitApi.as_view(), name="person-split"),
    path("faces/<uuid:face_id>/assign/", apis.FaceAssignApi.as_view(), name="face-assign"),
    path("faces/<uuid:face_id>/remove/", apis.FaceRemoveApi.as_view(), name="face-remove"),
    path("faces/<uuid:face_id>/confirm/", apis.FaceConfirmApi.as_view(), name="face-confirm"),
    path("faces/<uuid:face_id>/reject/", apis.FaceRejectApi.as_view(), name="face-reject"),
    path(
        "galleries/<uuid:gallery_id>/selfie-search/",
        search_apis.StudioSelfieSearchApi.as_view(),
        name="gallery-selfie-search",
    ),
    path(
        "galleries/<uuid:gallery_id>/hide-requests/",
        search_apis.HideRequestListApi.as_view(),
        name="gallery-hide-requests",
    ),
]
