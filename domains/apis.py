"""Studio API of custom domains: list, add, read, delete, verify now, make primary."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Perm
from domains import selectors, services
from domains.hostnames import MAX_RAW_LENGTH, to_unicode
from domains.models import Domain
from picpick.core.apis import StudioAPIView
from picpick.core.openapi import error_responses
from picpick.core.pagination import PageParams, page_body, paginate
from picpick.core.serializers import InputSerializer
from picpick.core.transactions import outside_request_transaction

TAGS = ["domains"]


class DnsRecordSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["TXT", "CNAME", "A", "AAAA"])
    name = serializers.CharField(help_text="The record's full name.")
    value = serializers.CharField()
    purpose = serializers.ChoiceField(
        choices=["ownership", "routing"],
        help_text="`ownership`: proves the studio controls the domain (may be removed once "
        "active); `routing`: sends visitors to PicPick (must stay).",
    )


class DomainOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    hostname = serializers.CharField(help_text="Lower case; internationalised names in punycode.")
    hostname_unicode = serializers.SerializerMethodField(help_text="The readable form.")
    kind = serializers.ChoiceField(choices=Domain.Kind.choices)
    state = serializers.ChoiceField(
        choices=Domain.State.choices,
        help_text="`pending` -> `verified` (TXT found) -> `active` (served); `failed`: see "
        "`reason`, then verify again.",
    )
    reason = serializers.SerializerMethodField(
        help_text="Why the domain is failed, or what the last check found missing; empty when "
        "all is well."
    )
    is_primary = serializers.BooleanField(help_text="Links to the studio's site use it.")
    url = serializers.SerializerMethodField(help_text="The site's address on this domain.")
    dns_records = serializers.SerializerMethodField()
    verified_at = serializers.DateTimeField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    last_checked_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next automatic check runs; null when failed."
    )
    records_missing_since = serializers.DateTimeField(
        allow_null=True,
        help_text="An active domain whose records are gone is deactivated after a grace period.",
    )
    failed_at = serializers.DateTimeField(allow_null=True)
    taken_over_at = serializers.DateTimeField(
        allow_null=True, help_text="Another studio proved ownership and took the domain."
    )
    created_at = serializers.DateTimeField()

    def get_hostname_unicode(self, domain: Domain) -> str:
        return to_unicode(domain.hostname)

    def get_reason(self, domain: Domain) -> str:
        return domain.failure_reason if domain.state == Domain.State.FAILED else domain.check_detail

    def get_url(self, domain: Domain) -> str:
        return selectors.site_url_for_host(domain.hostname)

    @extend_schema_field(DnsRecordSerializer(many=True))
    def get_dns_records(self, domain: Domain) -> list[dict[str, str]]:
        return selectors.domain_dns_records(domain=domain)


class DomainPageSerializer(serializers.Serializer):
    results = DomainOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


def _domain_response(view: StudioAPIView, domain_id: uuid.UUID, code: int = 200) -> Response:
    domain = selectors.domain_get(studio=view.studio, domain_id=domain_id)
    return Response(DomainOutputSerializer(domain).data, status=code)


_HOSTNAME_ERRORS = (
    "`validation_error`: not a domain name (an IP address, a single label, a label over 63 "
    "characters, over 253 characters in all, ...)."
)


class DomainListApi(StudioAPIView):
    permissions = {"GET": Perm.DOMAIN_VIEW, "POST": Perm.DOMAIN_MANAGE}

    class DomainAddInputSerializer(InputSerializer):
        hostname = serializers.CharField(
            max_length=MAX_RAW_LENGTH,
            help_text="A domain the studio owns, e.g. `photos.annasmith.com` or `annasmith.com`; "
            "internationalised names may be sent as Unicode.",
        )
        kind = serializers.ChoiceField(
            choices=Domain.Kind.choices,
            required=False,
            help_text="Which routing records to ask for: a CNAME (`subdomain`) or A/AAAA records "
            "(`apex`, which cannot hold a CNAME). Default: `apex` for two-label names such as "
            "`example.com`, else `subdomain`; send `apex` for names like `example.co.uk`.",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_list",
        summary="List the studio's custom domains",
        parameters=[PageParams],
        responses={200: DomainPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = PageParams(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = paginate(
            selectors.domain_list(studio=self.studio),
            ordering=["created_at"],
            cursor=query.validated_data.get("cursor"),
            page_size=query.validated_data["page_size"],
        )
        return Response(page_body(page, DomainOutputSerializer(page.items, many=True).data))

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_add",
        summary="Add a custom domain; the answer lists the DNS records to create",
        request=DomainAddInputSerializer,
        responses={
            201: DomainOutputSerializer,
            **error_responses(
                400,
                401,
                403,
                409,
                422,
                e400=_HOSTNAME_ERRORS,
                e409="`domain_exists` (already added to this studio), `domain_limit`.",
                e422="`reserved_domain` (a name under PicPick's own domain), `apex_unsupported`.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.DomainAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        domain = services.domain_add(studio=self.studio, by=request.user, **data.validated_data)
        return _domain_response(self, domain.id, status.HTTP_201_CREATED)


class DomainDetailApi(StudioAPIView):
    permissions = {"GET": Perm.DOMAIN_VIEW, "DELETE": Perm.DOMAIN_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_retrieve",
        summary="Read a custom domain: its state, the reason and the DNS records to create",
        responses={200: DomainOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, domain_id: uuid.UUID) -> Response:
        return _domain_response(self, domain_id)

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_destroy",
        summary="Delete a custom domain (its site stops answering on it at once)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, domain_id: uuid.UUID) -> Response:
        domain = selectors.domain_get(studio=self.studio, domain_id=domain_id)
        services.domain_delete(domain=domain, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@outside_request_transaction
class DomainVerifyNowApi(StudioAPIView):
    permissions = {"POST": Perm.DOMAIN_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_verify_now",
        summary="Look the DNS records up now (once per 30 seconds per domain)",
        description="Checks run automatically with backoff; this skips the wait. A failed "
        "domain starts a new verification window.",
        request=None,
        responses={
            200: DomainOutputSerializer,
            **error_responses(
                401, 403, 404, 429, e429="`rate_limited`: checked moments ago; see Retry-After."
            ),
        },
    )
    def post(self, request: Request, domain_id: uuid.UUID) -> Response:
        domain = selectors.domain_get(studio=self.studio, domain_id=domain_id)
        wait = services.domain_verify_now_wait(domain=domain)
        if wait is not None:
            raise Throttled(wait=wait, detail="This domain was checked moments ago.")
        services.domain_verify_now(domain=domain, by=request.user)
        return _domain_response(self, domain.id)


class DomainMakePrimaryApi(StudioAPIView):
    permissions = {"POST": Perm.DOMAIN_MANAGE}

    @extend_schema(
        tags=TAGS,
        operation_id="studio_domains_make_primary",
        summary="Use this active domain for links to the studio's site",
        request=None,
        responses={
            200: DomainOutputSerializer,
            **error_responses(401, 403, 404, 409, e409="`domain_not_active`."),
        },
    )
    def post(self, request: Request, domain_id: uuid.UUID) -> Response:
        domain = selectors.domain_get(studio=self.studio, domain_id=domain_id)
        services.domain_make_primary(domain=domain, by=request.user)
        return _domain_response(self, domain.id)
