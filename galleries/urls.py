from django.urls import path

from galleries.apis.albums import AlbumDetailApi, AlbumListApi, AlbumReorderApi
from galleries.apis.downloads import DownloadJobDetailApi, GalleryDownloadListApi, PhotoDownloadApi
from galleries.apis.galleries import (
    GalleryArchiveApi,
    GalleryDetailApi,
    GalleryListApi,
    GalleryPublishApi,
    GalleryUnarchiveApi,
)
from galleries.apis.photos import PhotoBulkApi, PhotoDetailApi, PhotoListApi, PhotoReorderApi
from galleries.apis.processing import GalleryReprocessApi
from galleries.apis.progress import GalleryEventsApi, GalleryEventsTicketApi, GalleryProgressApi
from galleries.apis.uploads import (
    UploadBatchCompleteApi,
    UploadBatchDetailApi,
    UploadBatchFilesApi,
    UploadBatchStartApi,
    UploadCompleteApi,
    UploadDetailApi,
    UploadPartsApi,
    UploadRenewApi,
)
from galleries.apis.watermarks import WatermarkDetailApi, WatermarkListApi, WatermarkLogoApi

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
    path("photos/<uuid:photo_id>/download/", PhotoDownloadApi.as_view(), name="photo-download"),
    path(
        "galleries/<uuid:gallery_id>/downloads/",
        GalleryDownloadListApi.as_view(),
        name="download-list",
    ),
    path("downloads/<uuid:job_id>/", DownloadJobDetailApi.as_view(), name="download-detail"),
    path(
        "galleries/<uuid:gallery_id>/reprocess/",
        GalleryReprocessApi.as_view(),
        name="gallery-reprocess",
    ),
    path(
        "galleries/<uuid:gallery_id>/progress/",
        GalleryProgressApi.as_view(),
        name="gallery-progress",
    ),
    path("galleries/<uuid:gallery_id>/events/", GalleryEventsApi.as_view(), name="gallery-events"),
    path(
        "galleries/<uuid:gallery_id>/events/ticket/",
        GalleryEventsTicketApi.as_view(),
        name="gallery-events-ticket",
    ),
    path("watermarks/", WatermarkListApi.as_view(), name="watermark-list"),
    path("watermarks/<uuid:watermark_id>/", WatermarkDetailApi.as_view(), name="watermark-detail"),
    path("watermarks/<uuid:watermark_id>/logo/", WatermarkLogoApi.as_view(), name="watermark-logo"),
    # --- uploads ---
    path(
        "galleries/<uuid:gallery_id>/uploads/", UploadBatchStartApi.as_view(), name="upload-start"
    ),
    path("uploads/<uuid:upload_id>/", UploadDetailApi.as_view(), name="upload-detail"),
    path("uploads/<uuid:upload_id>/parts/", UploadPartsApi.as_view(), name="upload-parts"),
    path("uploads/<uuid:upload_id>/renew/", UploadRenewApi.as_view(), name="upload-renew"),
    path("uploads/<uuid:upload_id>/complete/", UploadCompleteApi.as_view(), name="upload-complete"),
    path("upload-batches/<uuid:batch_id>/", UploadBatchDetailApi.as_view(), name="batch-detail"),
    path(
        "upload-batches/<uuid:batch_id>/files/", UploadBatchFilesApi.as_view(), name="batch-files"
    ),
    path(
        "upload-batches/<uuid:batch_id>/complete/",
        UploadBatchCompleteApi.as_view(),
        name="batch-complete",
    ),
]
