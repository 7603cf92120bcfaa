from django.urls import path

from galleries.apis.albums import AlbumDetailApi, AlbumListApi, AlbumReorderApi
from galleries.apis.galleries import (
    GalleryArchiveApi,
    GalleryDetailApi,
    GalleryListApi,
    GalleryPublishApi,
    GalleryUnarchiveApi,
)
from galleries.apis.photos import PhotoBulkApi, PhotoDetailApi, PhotoListApi, PhotoReorderApi

app_name = "galleries"

urlpatterns = [
    path("galleries/", GalleryListApi.as_view(), name="gallery-list"),
    path("galleries/<uuid:gallery_id>/", GalleryDetailApi.as_view(), name="gallery-detail"),
    path(
        "galleries/<uuid:gallery_id>/publish/", GalleryPublishApi.as_view(), name="gallery-publish"
    ),
    path(
        "galleries/<uuid:gallery_id>/archive/", GalleryArchiveApi.as_view(), name="gallery-archive"
    ),
    path(
        "galleries/<uuid:gallery_id>/unarchive/",
        GalleryUnarchiveApi.as_view(),
        name="gallery-unarchive",
    ),
    path("galleries/<uuid:gallery_id>/albums/", AlbumListApi.as_view(), name="album-list"),
    path(
        "galleries/<uuid:gallery_id>/albums/reorder/",
        AlbumReorderApi.as_view(),
        name="album-reorder",
    ),
    path("albums/<uuid:album_id>/", AlbumDetailApi.as_view(), name="album-detail"),
    path("galleries/<uuid:gallery_id>/photos/", PhotoListApi.as_view(), name="photo-list"),
    path(
        "galleries/<uuid:gallery_id>/photos/reorder/",
        PhotoReorderApi.as_view(),
        name="photo-reorder",
    ),
    path("galleries/<uuid:gallery_id>/photos/bulk/", PhotoBulkApi.as_view(), name="photo-bulk"),
    path("photos/<uuid:photo_id>/", PhotoDetailApi.as_view(), name="photo-detail"),
]
