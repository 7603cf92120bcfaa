"""Every write of custom domains: add, delete, make primary, and the DNS check lifecycle.

A check runs in three steps so that no lock or transaction is held during DNS lookups: claim
the row (a conditional UPDATE moving ``next_check_at`` forward: of two workers or beat runs only
one gets it), look the records up, then apply the result under the row lock, re-reading the
state the result applies to.

Lock order, wherever two domain rows are locked: the checked row first, then the row holding
the same hostname in another studio (a takeover); ``domain_make_primary`` locks one studio's
rows in id order. Host routing is cached (``domains.selectors.site_for_host``): every change a
host's answer depends on forgets that host, at once and again after the commit.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Role, Studio, User
from domains import dns
from domains.hostnames import (
    InvalidHostname,
    is_ip_address,
    is_under,
    normalize_hostname,
)
from domains.models import Domain
from domains.routing import host_cache_key, routing_config
from domains.selectors import site_url_for_host, studio_hostnames, studio_subdomain
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, NotFound, Unprocessable

logger = logging.getLogger("domains")

MAX_DOMAINS_PER_STUDIO = 20
# A claimed check that never finishes (a killed worker) is due again after this.
CHECK_LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
# While an active domain's records are missing (or cannot be looked up) it is looked at hourly.
GRACE_RECHECK = timedelta(hours=1)
VERIFY_NOW_SECONDS = 30
CHECKED_STATES = (Domain.State.PENDING, Domain.State.VERIFIED, Domain.State.ACTIVE)


# --- helpers -------------------------------------------------------------------------------------


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(
        "The request has invalid fields.", code="validation_error", fields={"hostname": [message]}
    )


def hostname_clean(raw: str) -> str:
    """The normal form of a custom domain a studio adds, or a 400/422 saying what is wrong.

    IDNA 2008 as browsers read it: ``straße.de`` is stored as ``xn--strae-oqa.de``, names with
    emoji or symbols are refused (``domains.hostnames``).
    """
    try:
        host = normalize_hostname(raw)
    except InvalidHostname as exc:
        raise _invalid(str(exc)) from exc
    labels = host.split(".")
    if is_ip_address(host) or labels[-1].isdigit():
        raise _invalid("An IP address is not a domain name: enter a name like photos.example.com.")
    config = routing_config()
    ours = [config.base_domain, *config.api_hosts, *config.internal_hosts]
    if settings.PICPICK_EDGE_CNAME:
        ours.append(settings.PICPICK_EDGE_CNAME)
    if any(is_under(host, name) for name in ours):
        raise Unprocessable(
            f"This name is PicPick's own (every studio already has <slug>.{config.base_domain}"
            "): add a domain you own.",
            code="reserved_domain",
            fields={"hostname": ["This name belongs to PicPick."]},
        )
    if len(labels) < 2:
        raise _invalid("Enter a full domain name like photos.example.com.")
    return host


def _guess_kind(host: str) -> str:
    # Without the public suffix list "example.co.uk" looks like a subdomain: the client may say
    # kind="apex". The check accepts either kind of record anyway; the kind only decides which
    # records the answer asks for.
    return Domain.Kind.APEX if host.count(".") == 1 else Domain.Kind.SUBDOMAIN


def expected_records(domain: Domain) -> dns.Expected:
    return dns.Expected(
        kind=domain.kind,
        txt_name=domain.txt_name,
        token=domain.challenge_token,
        edge_cname=settings.PICPICK_EDGE_CNAME,
        edge_ipv4=frozenset(settings.PICPICK_EDGE_IPV4),
        edge_ipv6=frozenset(settings.PICPICK_EDGE_IPV6),
    )


def _resolver():
    return dns.make_resolver(
        settings.PICPICK_DNS_RESOLVER, timeout=settings.PICPICK_DNS_TIMEOUT_SECONDS
    )


def hosts_forget(*hosts: str) -> None:
    """Drop cached routing answers now and again after the commit: a request that read the
    old rows before the commit may have cached them in between."""
    keys = [host_cache_key(host) for host in hosts]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def studio_changed(studio: Studio, old_slug: str) -> None:
    """accounts' ``STUDIO_CHANGE_HOOKS`` entry (see domains.apps): a studio was created, changed,
    deleted or restored; its hosts, the old subdomain too, answer from the rows again now."""
    hosts = set(studio_hostnames(studio=studio))
    if old_slug and old_slug != studio.slug:
        hosts.add(studio_subdomain(studio=Studio(slug=old_slug)))
    hosts_forget(*hosts)


def _retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), MAX_RETRY)


def _log(domain: Domain, old_state: str, detail: str = "") -> None:
    logger.info(
        "domain %s (%s) of studio %s: %s -> %s%s",
        domain.hostname,
        domain.id,
        domain.studio_id,
        old_state,
        domain.state,
        f" ({detail})" if detail else "",
    )


_SAVED = [
    "state",
    "held_hostname",
    "is_primary",
    "primary_of",
    "verify_started_at",
    "verified_at",
    "activated_at",
    "last_checked_at",
    "next_check_at",
    "check_attempts",
    "check_detail",
    "records_missing_since",
    "failure_reason",
    "failed_at",
    "taken_over_by",
    "taken_over_at",
    "updated_at",
]


def _fail(domain: Domain, *, reason: str, now: datetime) -> None:
    old_state = domain.state
    domain.state = Domain.State.FAILED
    domain.held_hostname = None
    domain.failure_reason = reason[:500]
    domain.failed_at = now
    domain.next_check_at = None
    domain.records_missing_since = None
    _log(domain, old_state, domain.failure_reason)


# --- studio actions ------------------------------------------------------------------------------


@transaction.atomic
def domain_add(
    *, studio: Studio, hostname: str, by: User, kind: str | None = None, now: datetime | None = None
) -> Domain:
    """A pending domain with its own challenge token; the answer lists the records to create.

    A hostname another studio holds can be added too: proving ownership with the TXT record
    moves it here (the other studio is told).
    """
    now = now or timezone.now()
    host = hostname_clean(hostname)
    kind = kind or _guess_kind(host)
    if kind == Domain.Kind.APEX and not settings.PICPICK_EDGE_IPV4:
        raise Unprocessable(
            "Apex domains need A records, and no edge address is configured: use a subdomain "
            "such as photos.example.com.",
            code="apex_unsupported",
            fields={"kind": ["Not available here."]},
        )
    # The studio row serialises one studio's adds, so the limit cannot be passed by a race.
    list(Studio.objects.select_for_update().filter(pk=studio.pk))
    exists = Conflict(
        "This studio already has this domain.",
        code="domain_exists",
        fields={"hostname": ["Already added."]},
    )
    if Domain.objects.filter(studio=studio, hostname=host).exists():
        raise exists
    if Domain.objects.filter(studio=studio).count() >= MAX_DOMAINS_PER_STUDIO:
        raise Conflict(
            f"A studio can have {MAX_DOMAINS_PER_STUDIO} custom domains; delete one first.",
            code="domain_limit",
        )
    domain = Domain(
        studio=studio,
        hostname=host,
        kind=kind,
        challenge_token=secrets.token_hex(16),
        verify_started_at=now,
        next_check_at=now + FIRST_RETRY,
    )
    try:
        with transaction.atomic():
            domain.save()
    except IntegrityError as exc:
        raise exists from exc
    logger.info(
        "domain %s (%s) added to studio %s by %s", host, domain.id, studio.id, getattr(by, "pk", by)
    )
    return domain


@transaction.atomic
def domain_delete(*, domain: Domain, by: User | None) -> None:
    Domain.objects.filter(pk=domain.pk).delete()
    hosts_forget(domain.hostname)
    logger.info(
        "domain %s (%s) of studio %s deleted by %s (was %s)",
        domain.hostname,
        domain.id,
        domain.studio_id,
        getattr(by, "pk", by),
        domain.state,
    )


@transaction.atomic
def domain_make_primary(*, domain: Domain, by: User | None) -> Domain:
    """The studio's site URL (links, emails) uses this domain from now on."""
    rows = list(
        Domain.objects.select_for_update().filter(studio_id=domain.studio_id).order_by("id")
    )
    target = next((row for row in rows if row.id == domain.id), None)
    if target is None:
        raise NotFound("No such domain in this studio.")
    if target.state != Domain.State.ACTIVE:
        raise Conflict("Only an active domain can be the primary one.", code="domain_not_active")
    for row in rows:
        if row.is_primary and row.id != target.id:
            row.is_primary, row.primary_of = False, None
            row.save(update_fields=["is_primary", "primary_of", "updated_at"])
    if not target.is_primary:
        target.is_primary, target.primary_of = True, target.studio_id
        target.save(update_fields=["is_primary", "primary_of", "updated_at"])
        logger.info(
            "domain %s (%s) is now the primary domain of studio %s (by %s)",
            target.hostname,
            target.id,
            target.studio_id,
            getattr(by, "pk", by),
        )
    return target


def domain_verify_now_wait(*, domain: Domain) -> int | None:
    """Take the domain's verify-now slot: None if taken, else the seconds until the next one.

    ``cache.add`` is atomic (Redis SET NX): of two simultaneous clicks only one checks.
    """
    key = f"domains:verify-now:{domain.id}"
    until = timezone.now().timestamp() + VERIFY_NOW_SECONDS
    if cache.add(key, until, timeout=VERIFY_NOW_SECONDS):
        return None
    held_until = cache.get(key) or until
    return max(1, int(held_until - timezone.now().timestamp()) + 1)


@transaction.atomic
def _restart(*, domain_id: uuid.UUID, now: datetime) -> None:
    domain = Domain.objects.select_for_update().filter(id=domain_id).first()
    if domain is None or domain.state != Domain.State.FAILED:
        return
    domain.state = Domain.State.PENDING
    domain.verify_started_at = now
    domain.check_attempts = 0
    domain.check_detail = ""
    domain.failure_reason = ""
    domain.failed_at = None
    domain.taken_over_by = None
    domain.taken_over_at = None
    domain.next_check_at = now
    domain.save(update_fields=_SAVED)
    _log(domain, Domain.State.FAILED, "verification restarted")


def domain_verify_now(*, domain: Domain, by: User | None, now: datetime | None = None) -> Domain:
    """Check the records at once (a failed domain starts a new verification window).

    Not one transaction, like ``domain_check``: no lock is held while DNS answers.
    """
    now = now or timezone.now()
    logger.info(
        "domain %s (%s) checked on request of %s", domain.hostname, domain.id, getattr(by, "pk", by)
    )
    _restart(domain_id=domain.id, now=now)
    checked = domain_check(domain_id=domain.id, now=now, force=True)
    if checked is None:
        raise NotFound("No such domain in this studio.")
    return checked


@transaction.atomic
def domain_check_soon(*, domain: Domain, by: User | None, now: datetime | None = None) -> None:
    """Make the domain due for the next beat sweep (a failed one starts a new verification
    window): for bulk requests that must not wait for DNS, like the admin's action."""
    now = now or timezone.now()
    _restart(domain_id=domain.id, now=now)
    Domain.objects.filter(id=domain.id, state__in=CHECKED_STATES).update(
        next_check_at=now, updated_at=now
    )
    logger.info(
        "domain %s (%s) due for a check now (by %s)",
        domain.hostname,
        domain.id,
        getattr(by, "pk", by),
    )


# --- the check lifecycle -----------------------------------------------------------------------


def _claim(*, domain_id: uuid.UUID, now: datetime, force: bool) -> bool:
    rows = Domain.objects.filter(id=domain_id, state__in=CHECKED_STATES)
    if not force:
        rows = rows.filter(next_check_at__lte=now)
    return rows.update(next_check_at=now + CHECK_LEASE, updated_at=now) == 1


def domain_check(
    *, domain_id: uuid.UUID | str, now: datetime | None = None, force: bool = False
) -> Domain | None:
    """Check a due domain's DNS records and move it along (idempotent; safe to run twice).

    Not one transaction on purpose: the claim commits on its own and the lookups (seconds, at
    worst) run with no transaction or lock open; applying the result is atomic. Returns the
    domain, or None when it was not due, already claimed, or deleted.
    """
    now = now or timezone.now()
    if not _claim(domain_id=domain_id, now=now, force=force):
        return None
    domain = Domain.objects.filter(id=domain_id).first()
    if domain is None:
        return None
    result = dns.check(
        domain.hostname,
        expected_records(domain),
        resolver=_resolver(),
        ownership=domain.state == Domain.State.PENDING,
    )
    if result.ownership is None or result.routing is None:
        logger.warning("domain %s (%s): %s", domain.hostname, domain.id, result.reason)
    return _apply(domain_id=domain.id, checked_state=domain.state, result=result, now=now)


@transaction.atomic
def _apply(
    *, domain_id: uuid.UUID, checked_state: str, result: dns.CheckResult, now: datetime
) -> Domain | None:
    domain = Domain.objects.select_for_update().filter(id=domain_id).first()
    if domain is None:
        return None
    if domain.state != checked_state:
        # Changed while we looked (taken over, deleted and re-added, checked by another
        # worker): this result describes a state that no longer exists. Due again soon.
        logger.info("domain %s (%s): state changed during the check", domain.hostname, domain.id)
        return domain
    old_state = domain.state
    domain.last_checked_at = now
    if domain.state in (Domain.State.PENDING, Domain.State.VERIFIED):
        _apply_verification(domain, result=result, now=now)
    elif domain.state == Domain.State.ACTIVE:
        _apply_recheck(domain, result=result, now=now)
    domain.save(update_fields=_SAVED)
    if domain.state != old_state:
        hosts_forget(domain.hostname)
    return domain


def _apply_verification(domain: Domain, *, result: dns.CheckResult, now: datetime) -> None:
    took = domain.state == Domain.State.PENDING and result.ownership and _take(domain, now=now)
    if domain.state == Domain.State.PENDING and result.ownership and not took:
        domain.check_detail = "Another check of this domain is finishing; retrying shortly."
        domain.next_check_at = now + FIRST_RETRY
        return
    if domain.state == Domain.State.VERIFIED and result.routing:
        domain.state = Domain.State.ACTIVE
        _log(domain, Domain.State.VERIFIED, "the routing records point at the edge")
        domain.activated_at = now
        domain.check_attempts = 0
        domain.check_detail = ""
        domain.records_missing_since = None
        domain.next_check_at = now + timedelta(hours=settings.PICPICK_DOMAIN_RECHECK_HOURS)
        return
    window = timedelta(days=settings.PICPICK_DOMAIN_VERIFY_DAYS)
    if now - domain.verify_started_at >= window:
        _fail(
            domain,
            reason=(
                f"The DNS records were not found within {settings.PICPICK_DOMAIN_VERIFY_DAYS} "
                f"days: {result.reason} Fix them, then verify again."
            ),
            now=now,
        )
        domain.check_detail = ""
        return
    domain.check_attempts += 1
    domain.check_detail = result.reason[:500]
    domain.next_check_at = now + _retry_delay(domain.check_attempts)


def _take(domain: Domain, *, now: datetime) -> bool:
    """Ownership proven: hold the hostname, taking it from the studio that held it (if any)."""
    holders = list(
        Domain.objects.select_for_update()
        .filter(held_hostname=domain.hostname)
        .exclude(id=domain.id)
    )
    for holder in holders:
        old_state = holder.state
        _fail(
            holder,
            reason=(
                f"Another PicPick studio proved that it controls {holder.hostname} (its DNS TXT "
                f"record) on {now:%Y-%m-%d %H:%M} UTC; the domain now serves that studio's site."
            ),
            now=now,
        )
        holder.is_primary, holder.primary_of = False, None
        holder.taken_over_by_id = domain.studio_id
        holder.taken_over_at = now
        holder.save(update_fields=_SAVED)
        logger.info(
            "domain %s (%s) of studio %s (was %s) taken over by studio %s",
            holder.hostname,
            holder.id,
            holder.studio_id,
            old_state,
            domain.studio_id,
        )
        _takeover_notify(holder)
    domain.state = Domain.State.VERIFIED
    domain.held_hostname = domain.hostname
    domain.verified_at = now
    domain.check_attempts = 0
    try:
        with transaction.atomic():
            domain.save(update_fields=_SAVED)
    except IntegrityError:
        # A concurrent check of another studio's row took the hostname between our read and
        # our write (the unique held_hostname refused the second holder).
        logger.warning("domain %s (%s): lost a race for the hostname", domain.hostname, domain.id)
        domain.state = Domain.State.PENDING
        domain.held_hostname = None
        domain.verified_at = None
        return False
    _log(domain, Domain.State.PENDING, "the TXT record proves ownership")
    return True


def _takeover_notify(holder: Domain) -> None:
    studio = Studio.objects.get(pk=holder.studio_id)
    owners = list(
        Membership.objects.filter(studio=studio, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    if not owners:
        return
    site_url = site_url_for_host(studio_subdomain(studio=studio))
    subject = f"{holder.hostname} now belongs to another PicPick studio"
    body = (
        f"The domain {holder.hostname} was connected to {studio.name} on PicPick.\n\n"
        f"{holder.failure_reason}\n\n"
        f"{studio.name}'s site is no longer served on {holder.hostname}; it is still at "
        f"{site_url}.\n\n"
        f"If you still own {holder.hostname}, check who can change its DNS records, then verify "
        "the domain again in your studio's domain settings.\n"
    )
    email_send_on_commit(subject=subject, body=body, to=owners)


def _apply_recheck(domain: Domain, *, result: dns.CheckResult, now: datetime) -> None:
    recheck = timedelta(hours=settings.PICPICK_DOMAIN_RECHECK_HOURS)
    if result.routing:
        domain.records_missing_since = None
        domain.check_detail = ""
        domain.next_check_at = now + recheck
        return
    domain.check_detail = result.reason[:500]
    domain.next_check_at = now + min(recheck, GRACE_RECHECK)
    if result.routing is None:
        return  # the lookup failed: nothing is known to be missing
    domain.records_missing_since = domain.records_missing_since or now
    grace = timedelta(hours=settings.PICPICK_DOMAIN_GRACE_HOURS)
    if now - domain.records_missing_since >= grace:
        since = f"{domain.records_missing_since:%Y-%m-%d %H:%M} UTC"
        _fail(
            domain,
            reason=(
                f"Deactivated: the DNS records have been missing since {since}. "
                f"{result.reason} Restore them, then verify again."
            ),
            now=now,
        )
        domain.check_detail = ""
