"""Guest API (on the API host and on every studio site) and the studio's side of guests."""

from django.urls import path

from guests import apis, apis_studio

public_urlpatterns = [
    path("public/galleries/open/", apis.GalleryOpenApi.as_view(), name="guest-open"),
    path(
        "public/galleries/<uuid:gallery_id>/", apis.GalleryDetailApi.as_view(), name="guest-gallery"
    ),
    path(
        "public/galleries/<uuid:gallery_id>/unlock/",
        apis.GalleryUnlockApi.as_view(),
        name="guest-unlock",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/register/",
        apis.RegisterApi.as_view(),
        name="guest-register",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/photos/",
        apis.PhotoListApi.as_view(),
        name="guest-photos",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/photos/<str:photo_id>/download/",
        apis.PhotoDownloadApi.as_view(),
        name="guest-photo-download",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/favourites/",
        apis.FavouriteListsApi.as_view(),
        name="guest-favourites",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/favourites/photos/<str:photo_id>/",
        apis.FavouritePhotoApi.as_view(),
        name="guest-favourite-photo",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/unlock/",
        apis.DownloadsUnlockApi.as_view(),
        name="guest-downloads-unlock",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/",
        apis.ZipRequestApi.as_view(),
        name="guest-zips",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/<str:job_id>/",
        apis.ZipJobApi.as_view(),
        name="guest-zip",
    ),
]

studio_urlpatterns = [
    path("studio/logo/", apis_studio.StudioLogoApi.as_view(), name="studio-logo"),
    path(
        "galleries/<uuid:gallery_id>/guest-access/",
        apis_studio.GuestAccessApi.as_view(),
        name="gallery-guest-access",
    ),
    path(
        "galleries/<uuid:gallery_id>/visitors/",
        apis_studio.VisitorListApi.as_view(),
        name="gallery-visitors",
    ),
    path(
        "galleries/<uuid:gallery_id>/favourites/",
        apis_studio.FavouriteListsApi.as_view(),
        name="gallery-favourites",
    ),
    path(
        "favourite-lists/<uuid:list_id>/export/",
        apis_studio.FavouriteExportApi.as_view(),
        name="favourite-list-export",
    ),
]

urlpatterns = public_urlpatterns + studio_urlpatterns
