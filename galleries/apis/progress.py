"""A gallery's live progress: the event stream, its ticket, and the polling twin.

The stream is Server-Sent Events (why, and how it is fed: ``picpick.core.events``). It is served
by the ASGI service in production (an async iterator, no thread held per listener) and works
under WSGI too (``make run``, the tests' live server), where it runs as a generator.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.authentication import StudioJWTAuthentication
from accounts.permissions import Perm
from galleries import selectors
from galleries.selectors.progress import gallery_progress, gallery_progress_topic
from picpick.core import events
from picpick.core.apis import StudioAPIView
from picpick.core.events import sse
from picpick.core.events.tickets import TICKET_MAX_AGE, StreamTicketAuthentication, ticket_issue
from picpick.core.openapi import error_responses


class GalleryProgressSerializer(serializers.Serializer):
    gallery_id = serializers.UUIDField()
    photos = serializers.IntegerField(help_text="Photos in the gallery (deleted ones excluded).")
    uploaded = serializers.IntegerField(
        help_text="Photos whose bytes are in: uploaded, processing, processed or failed."
    )
    processing = serializers.IntegerField(help_text="Uploaded, not yet processed or failed.")
    processed = serializers.IntegerField(help_text="Processed (ready).")
    failed = serializers.IntegerField()
    faces = serializers.IntegerField(help_text="Faces found in the gallery's photos.")
    people = serializers.IntegerField(help_text="People the faces are grouped into.")
    bytes_uploaded = serializers.IntegerField()
    updated_at = serializers.DateTimeField(help_text="When these counts were read.")


STREAM_DESCRIPTION = f"""\
`text/event-stream` (Server-Sent Events). `retry: {sse.RETRY_MS}` once, then events
`id: <opaque monotonic id>`, `event: {sse.EVENT_NAME}`, `data: <one JSON object>` shaped like
the polling twin's body (`GalleryProgress`), each a full snapshot with absolute counts; a comment
`: keep-alive` every {int(sse.HEARTBEAT_SECONDS)} s without an event. The first event after a
connect is a full snapshot; a client resuming with `Last-Event-ID` gets the newest snapshot it
missed (none when it missed nothing). The server ends the response after an hour: reconnect.
"""


class GalleryEventsApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}
    # A browser's EventSource cannot send a header: ``?ticket=`` first, else the bearer token.
    authentication_classes = [StreamTicketAuthentication, StudioJWTAuthentication]

    def ticket_scope(self, gallery_id, **kwargs) -> str:
        return gallery_progress_topic(gallery_id)

    def perform_content_negotiation(self, request, force=False):
        # Clients ask for text/event-stream; errors are answered in JSON all the same.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        tags=["galleries"],
        operation_id="galleries_events",
        summary="Stream the gallery's progress as it happens (Server-Sent Events)",
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The id of the last event received: resume after it.",
            ),
            OpenApiParameter(
                "last_event_id",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description=(
                    "The same, for a client opening a new EventSource (which cannot send the "
                    "header) after its ticket expired."
                ),
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=OpenApiTypes.STR, description=STREAM_DESCRIPTION
            ),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        resume = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
        gallery_id = str(gallery.id)
        return events.event_stream_response(
            request,
            topic=gallery_progress_topic(gallery_id),
            snapshot=lambda: gallery_progress(gallery_id=gallery_id).as_dict(),
            resume=resume,
        )


class GalleryEventsTicketApi(StudioAPIView):
    permissions = {"POST": Perm.GALLERY_VIEW}

    class TicketOutputSerializer(serializers.Serializer):
        ticket = serializers.CharField()
        expires_in = serializers.IntegerField(help_text="Seconds the ticket can open the stream.")
        url = serializers.CharField(help_text="The stream's path with the ticket.")

    @extend_schema(
        tags=["galleries"],
        operation_id="galleries_events_ticket",
        summary="A short-lived ticket to open the gallery's event stream without a header",
        request=None,
        responses={200: TicketOutputSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        ticket = ticket_issue(
            user=request.user,
            studio_id=self.studio.id,
            scope=gallery_progress_topic(gallery.id),
        )
        path = reverse("galleries:gallery-events", kwargs={"gallery_id": gallery.id})
        data = {"ticket": ticket, "expires_in": TICKET_MAX_AGE, "url": f"{path}?ticket={ticket}"}
        return Response(self.TicketOutputSerializer(data).data)


class GalleryProgressApi(StudioAPIView):
    permissions = {"GET": Perm.GALLERY_VIEW}

    @extend_schema(
        tags=["galleries"],
        operation_id="galleries_progress",
        summary="The gallery's progress now (the event stream's polling twin)",
        responses={200: GalleryProgressSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, gallery_id):
        gallery = selectors.gallery_get(studio=self.studio, gallery_id=gallery_id)
        progress = gallery_progress(gallery_id=gallery.id)
        return Response(GalleryProgressSerializer(progress.as_dict()).data)
