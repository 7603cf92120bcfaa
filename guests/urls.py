"""Guest API (on the API host and on every studio site) and the studio's side of guests."""

from django.urls import path

from guests.apis import downloads, favourites, galleries, selfie, studio

public_urlpatterns = [
    path("public/galleries/open/", galleries.GalleryOpenApi.as_view(), name="guest-open"),
    path(
        "public/galleries/<uuid:gallery_id>/",
        galleries.GalleryDetailApi.as_view(),
        name="guest-gallery",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/unlock/",
        galleries.GalleryUnlockApi.as_view(),
        name="guest-unlock",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/register/",
        galleries.RegisterApi.as_view(),
        name="guest-register",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/photos/",
        galleries.PhotoListApi.as_view(),
        name="guest-photos",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/photos/<str:photo_id>/download/",
        downloads.PhotoDownloadApi.as_view(),
        name="guest-photo-download",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/favourites/",
        favourites.FavouriteListsApi.as_view(),
        name="guest-favourites",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/favourites/photos/<str:photo_id>/",
        favourites.FavouritePhotoApi.as_view(),
        name="guest-favourite-photo",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/unlock/",
        downloads.DownloadsUnlockApi.as_view(),
        name="guest-downloads-unlock",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/",
        downloads.ZipRequestApi.as_view(),
        name="guest-zips",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/downloads/<str:job_id>/",
        downloads.ZipJobApi.as_view(),
        name="guest-zip",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/selfie-search/",
        selfie.PublicSelfieSearchApi.as_view(),
        name="public-selfie-search",
    ),
    path(
        "public/galleries/<uuid:gallery_id>/hide-me/",
        selfie.PublicHideMeApi.as_view(),
        name="public-hide-me",
    ),
]

studio_urlpatterns = [
    path("studio/logo/", studio.StudioLogoApi.as_view(), name="studio-logo"),
    path(
        "galleries/<uuid:gallery_id>/guest-access/",
        studio.GuestAccessApi.as_view(),
        name="gallery-guest-access",
    ),
    path(
        "galleries/<uuid:gallery_id>/visitors/",
        studio.VisitorListApi.as_view(),
        name="gallery-visitors",
    ),
    path(
        "galleries/<uuid:gallery_id>/favourites/",
        studio.FavouriteListsApi.as_view(),
        name="gallery-favourites",
    ),
    path(
        "favourite-lists/<uuid:list_id>/export/",
        studio.FavouriteExportApi.as_view(),
        name="favourite-list-export",
    ),
]

urlpatterns = public_urlpatterns + studio_urlpatterns
