"""Reads of custom domains and of the host -> site routing.

``site_for_host`` runs on every request to a studio host and on every on-demand TLS "ask": it
answers from the cache (no query) and, on a miss, with at most one indexed query. Hosts that
belong to nobody are cached too, briefly, so random names cannot reach the database each time.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Studio
from accounts.slugs import RESERVED_SUBDOMAINS
from domains.models import Domain
from domains.routing import Site, host_cache_key, routing_config
from picpick.core.cache import CACHE_DOWN
from picpick.core.selectors import studio_object_or_404

logger = logging.getLogger(__name__)

_NOBODY = "-"


def _encode(site: Site | None) -> str:
    if site is None:
        return _NOBODY
    return f"{site.studio_id}|{site.domain_id or ''}"


def _decode(host: str, value: str) -> Site | None:
    if value == _NOBODY:
        return None
    studio_id, _, domain_id = value.partition("|")
    return Site(
        kind="studio",
        host=host,
        studio_id=uuid.UUID(studio_id),
        domain_id=uuid.UUID(domain_id) if domain_id else None,
    )


def _studio_site_from_db(host: str) -> Site | None:
    config = routing_config()
    slug = config.studio_slug(host)
    if slug is not None:
        if slug in RESERVED_SUBDOMAINS:
            return None
        studio_id = (
            Studio.objects.filter(slug=slug, deleted_at__isnull=True)
            .values_list("id", flat=True)
            .first()
        )
        return Site(kind="studio", host=host, studio_id=studio_id) if studio_id else None
    if host.endswith(f".{config.base_domain}"):
        return None  # deeper names under our domain are never custom domains
    row = (
        Domain.objects.filter(
            held_hostname=host, state=Domain.State.ACTIVE, studio__deleted_at__isnull=True
        )
        .values_list("id", "studio_id")
        .first()
    )
    if row is None:
        return None
    return Site(kind="studio", host=host, studio_id=row[1], domain_id=row[0])


def site_for_host(*, host: str) -> Site | None:
    """The site of a normalised host (see ``domains.hostnames``), or None if nobody's."""
    config = routing_config()
    if host in config.api_hosts:
        return Site(kind="api", host=host)
    if host in config.internal_hosts:
        return Site(kind="internal", host=host)
    if host.startswith("["):
        return None  # an IPv6 literal that is not an API host
    key = host_cache_key(host)
    try:
        cached = cache.get(key)
    except CACHE_DOWN as exc:  # Redis restarting: the database answers, the site stays up
        logger.warning("host routing cache unreachable, asking the database (%r)", exc)
        return _studio_site_from_db(host)
    if cached is not None:
        return _decode(host, cached)
    site = _studio_site_from_db(host)
    timeout = (
        settings.PICPICK_HOST_CACHE_SECONDS
        if site is not None
        else settings.PICPICK_HOST_NEGATIVE_CACHE_SECONDS
    )
    try:
        cache.set(key, _encode(site), timeout=timeout)
    except CACHE_DOWN as exc:
        logger.warning("host routing cache unreachable, answer not kept (%r)", exc)
    return site


def studio_for_site(*, site: Site) -> Studio | None:
    """The studio whose site this is (None for API and internal hosts, or a deleted studio).

    Memoised on the ``Site``, which lives for one request: one query per request at most.
    """
    if site.kind != "studio" or site.studio_id is None:
        return None
    if "studio" not in site.memo:
        site.memo["studio"] = Studio.objects.filter(
            id=site.studio_id, deleted_at__isnull=True
        ).first()
    return site.memo["studio"]


def studio_subdomain(*, studio: Studio) -> str:
    return f"{studio.slug}.{routing_config().base_domain}"


def studio_hostnames(*, studio: Studio) -> list[str]:
    """Every host the studio's site answers on: its subdomain and its active custom domains."""
    custom = Domain.objects.filter(studio=studio, state=Domain.State.ACTIVE).values_list(
        "hostname", flat=True
    )
    return [studio_subdomain(studio=studio), *custom]


def studio_primary_hostname(*, studio: Studio) -> str:
    """The host of the studio's site: its active custom domain marked primary, else its
    subdomain."""
    hostname = (
        Domain.objects.filter(primary_of=studio.id, state=Domain.State.ACTIVE)
        .values_list("hostname", flat=True)
        .first()
    )
    return hostname or studio_subdomain(studio=studio)


def site_url_for_host(host: str) -> str:
    """``scheme://host[:port]`` from settings (never from a request's Host header)."""
    scheme = settings.PICPICK_SITE_SCHEME
    port = settings.PICPICK_SITE_PORT
    default_port = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def studio_site_url(*, studio: Studio) -> str:
    """The absolute URL of the studio's site, e.g. ``https://photos.annasmith.com`` or
    ``http://annasmith.localhost:8000``: its primary domain, scheme and port from settings."""
    return site_url_for_host(studio_primary_hostname(studio=studio))


def tls_allowed(*, host: str) -> bool:
    """May the edge get a certificate for ``host``? Active custom domains and studio
    subdomains only; from the cache or one query, never a DNS lookup."""
    site = site_for_host(host=host)
    return site is not None and site.kind == "studio"


def domain_list(*, studio: Studio) -> QuerySet[Domain]:
    return Domain.objects.filter(studio=studio)


def domain_get(*, studio: Studio, domain_id: uuid.UUID) -> Domain:
    return studio_object_or_404(
        Domain.objects.all(),
        studio=studio,
        object_id=domain_id,
        message="No such domain in this studio.",
    )


def domain_dns_records(*, domain: Domain) -> list[dict[str, str]]:
    """The records the studio creates at its DNS provider: the TXT record proving ownership,
    and a CNAME to our edge (a subdomain) or A/AAAA records of our edge (an apex)."""
    records = [
        {
            "type": "TXT",
            "name": domain.txt_name,
            "value": domain.challenge_token,
            "purpose": "ownership",
        }
    ]
    if domain.kind == Domain.Kind.SUBDOMAIN and settings.PICPICK_EDGE_CNAME:
        records.append(
            {
                "type": "CNAME",
                "name": domain.hostname,
                "value": settings.PICPICK_EDGE_CNAME,
                "purpose": "routing",
            }
        )
    else:
        records += [
            {"type": "A", "name": domain.hostname, "value": address, "purpose": "routing"}
            for address in settings.PICPICK_EDGE_IPV4
        ]
        records += [
            {"type": "AAAA", "name": domain.hostname, "value": address, "purpose": "routing"}
            for address in settings.PICPICK_EDGE_IPV6
        ]
    return records


# A beat run queues at most this many checks; the rest are due at the next run.
DUE_BATCH = 500


def domains_due_ids(*, states: tuple[str, ...], now: datetime | None = None) -> list[uuid.UUID]:
    """Domains in ``states`` whose next check is due, oldest due first (domain_due_idx)."""
    now = now or timezone.now()
    return list(
        Domain.objects.filter(state__in=states, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("id", flat=True)[:DUE_BATCH]
    )
