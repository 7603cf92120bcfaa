"""What a request's host is: the API, an internal caller, or a studio's site.

``Site`` is what ``HostRoutingMiddleware`` puts on ``request.site``. The hosts it knows without
the database (API and internal hosts, the base domain) are read from settings once and read
again when a test changes them.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SiteKind = Literal["api", "internal", "studio"]


@dataclass(frozen=True, slots=True)
class Site:
    """The site a request is for.

    ``kind`` is "api" (the API, admin and docs), "internal" (calls from inside the deployment)
    or "studio" (a studio's site: its subdomain when ``domain_id`` is None, else that custom
    domain). ``host`` is the normalised host (no port).
    """

    kind: SiteKind
    host: str
    studio_id: uuid.UUID | None = None
    domain_id: uuid.UUID | None = None
    # Per-request memo (the studio row, ...): a Site is made for each request and dropped after.
    memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def is_custom_domain(self) -> bool:
        return self.domain_id is not None


@dataclass(frozen=True)
class RoutingConfig:
    api_hosts: frozenset[str]
    internal_hosts: frozenset[str]
    base_domain: str

    def studio_slug(self, host: str) -> str | None:
        """The slug if ``host`` is ``<one label>.<base domain>``, else None."""
        label, dot, rest = host.partition(".")
        if dot and rest == self.base_domain and label:
            return label
        return None


_SETTINGS = {"PICPICK_API_HOSTS", "PICPICK_INTERNAL_HOSTS", "PICPICK_BASE_DOMAIN"}


@functools.cache
def routing_config() -> RoutingConfig:
    return RoutingConfig(
        api_hosts=frozenset(host.lower() for host in settings.PICPICK_API_HOSTS),
        internal_hosts=frozenset(host.lower() for host in settings.PICPICK_INTERNAL_HOSTS),
        base_domain=settings.PICPICK_BASE_DOMAIN.lower(),
    )


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in _SETTINGS:
        routing_config.cache_clear()


def host_cache_key(host: str) -> str:
    # Memcached-compatible keys stay under 250 characters; a hostname may have 253.
    if len(host) > 200:
        host = "#" + hashlib.sha256(host.encode()).hexdigest()
    return f"domains:host:{host}"
