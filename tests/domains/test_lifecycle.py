"""A custom domain's life: pending -> verified -> active, re-checks, deactivation, takeover.

Time moves by passing ``now`` to the services (or by editing rows); nothing sleeps. The DNS
answers come from the loopback server of ``fake_dns``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from domains import selectors, services, tasks
from domains.models import Domain
from picpick.testing.factories import MembershipFactory, UserFactory
from tests.domains.conftest import make_domain

HOST = "photos.annasmith.com"
PENDING, VERIFIED, ACTIVE, FAILED = Domain.State


def _check(domain: Domain, now) -> Domain | None:
    return services.domain_check(domain_id=domain.id, now=now)


@pytest.fixture
def added(studio_a, alice) -> Domain:
    return services.domain_add(studio=studio_a, hostname=HOST, by=alice)


def test_the_whole_life_of_a_domain(added, fake_dns, settings, anon_client):
    t0 = added.created_at
    assert added.state == PENDING
    assert added.next_check_at == added.verify_started_at + timedelta(minutes=1)

    # Nothing created yet: pending, with what is missing, retried with backoff.
    t = t0 + timedelta(minutes=1)
    domain = _check(added, t)
    assert (domain.state, domain.check_attempts) == (PENDING, 1)
    assert domain.check_detail.startswith(f"No TXT record _picpick-challenge.{HOST}")
    assert domain.next_check_at == t + timedelta(minutes=1)
    assert _check(domain, t) is None  # not due again yet

    # The TXT record proves ownership: verified, still waiting for the CNAME.
    fake_dns.prove(domain)
    t += timedelta(minutes=1)
    domain = _check(domain, t)
    assert (domain.state, domain.verified_at, domain.held_hostname) == (VERIFIED, t, HOST)
    assert "needs a CNAME record to edge.picpick.test" in domain.check_detail
    assert (
        anon_client.get("/internal/tls-ask", {"domain": HOST}, HTTP_HOST="web").status_code == 404
    )

    # The CNAME: active, served, certificates allowed; re-checked every few hours.
    fake_dns.route(domain)
    t = domain.next_check_at
    domain = _check(domain, t)
    assert (domain.state, domain.activated_at, domain.check_detail) == (ACTIVE, t, "")
    assert domain.next_check_at == t + timedelta(hours=settings.PICPICK_DOMAIN_RECHECK_HOURS)
    assert (
        anon_client.get("/internal/tls-ask", {"domain": HOST}, HTTP_HOST="web").status_code == 200
    )
    assert anon_client.get("/healthz", HTTP_HOST=HOST).status_code == 200

    # The TXT record may go once active: re-checks look at the routing records only.
    fake_dns.remove(domain.txt_name)
    t = domain.next_check_at
    domain = _check(domain, t)
    assert (domain.state, domain.records_missing_since) == (ACTIVE, None)

    # The CNAME goes: still served during the grace period, looked at hourly.
    fake_dns.remove(HOST)
    t = domain.next_check_at
    gone_at = t
    domain = _check(domain, t)
    assert (domain.state, domain.records_missing_since) == (ACTIVE, gone_at)
    assert domain.next_check_at == t + timedelta(hours=1)
    assert "needs a CNAME record" in domain.check_detail
    assert anon_client.get("/healthz", HTTP_HOST=HOST).status_code == 200

    # Past the grace period: deactivated, no longer served, no certificate.
    t = gone_at + timedelta(hours=settings.PICPICK_DOMAIN_GRACE_HOURS)
    domain = services.domain_check(domain_id=domain.id, now=t, force=True)
    assert (domain.state, domain.held_hostname, domain.next_check_at) == (FAILED, None, None)
    assert domain.failure_reason.startswith(
        f"Deactivated: the DNS records have been missing since {gone_at:%Y-%m-%d %H:%M} UTC."
    )
    assert (
        anon_client.get("/internal/tls-ask", {"domain": HOST}, HTTP_HOST="web").status_code == 404
    )
    assert anon_client.get("/healthz", HTTP_HOST=HOST).status_code == 400
    # A failed domain is not checked automatically any more.
    assert (
        selectors.domains_due_ids(states=services.CHECKED_STATES, now=t + timedelta(days=9)) == []
    )


def test_records_that_come_back_during_the_grace_period_keep_the_domain(
    studio_a, fake_dns, settings
):
    domain = make_domain(studio_a, HOST, ACTIVE)
    t = timezone.now()
    domain = services.domain_check(domain_id=domain.id, now=t, force=True)
    assert domain.records_missing_since == t
    fake_dns.route(domain)
    domain = services.domain_check(domain_id=domain.id, now=t + timedelta(hours=70), force=True)
    assert (domain.state, domain.records_missing_since, domain.check_detail) == (ACTIVE, None, "")


def test_a_resolver_outage_never_deactivates(studio_a, fake_dns, settings):
    domain = make_domain(studio_a, HOST, ACTIVE)
    fake_dns.servfail.add(HOST)
    t = timezone.now()
    for hours in (0, 24, 72, 200):
        domain = services.domain_check(
            domain_id=domain.id, now=t + timedelta(hours=hours), force=True
        )
        assert (domain.state, domain.records_missing_since) == (ACTIVE, None)
    assert "could not be checked" in domain.check_detail


def test_a_resolver_outage_while_verifying_is_retried(added, fake_dns):
    fake_dns.servfail.add(added.txt_name)
    domain = services.domain_check(domain_id=added.id, now=timezone.now(), force=True)
    assert (domain.state, domain.check_attempts) == (PENDING, 1)
    assert "Ownership could not be checked" in domain.check_detail


def test_backoff_doubles_from_one_minute_to_six_hours(added, fake_dns):
    t = added.created_at
    delays = []
    domain = added
    for _ in range(12):
        t = domain.next_check_at
        domain = _check(domain, t)
        delays.append(domain.next_check_at - t)
    minutes = [int(delay.total_seconds() // 60) for delay in delays]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]


def test_a_domain_never_verified_in_time_fails(added, fake_dns, settings):
    t = added.verify_started_at + timedelta(days=settings.PICPICK_DOMAIN_VERIFY_DAYS)
    domain = services.domain_check(domain_id=added.id, now=t, force=True)
    assert (domain.state, domain.next_check_at, domain.failed_at) == (FAILED, None, t)
    assert domain.failure_reason.startswith(
        f"The DNS records were not found within {settings.PICPICK_DOMAIN_VERIFY_DAYS} days: "
        "No TXT record"
    )


def test_a_verified_domain_never_routed_in_time_fails_and_releases_the_name(added, fake_dns):
    fake_dns.prove(added)
    domain = services.domain_check(domain_id=added.id, now=timezone.now(), force=True)
    assert domain.state == VERIFIED
    t = domain.verify_started_at + timedelta(days=7)
    domain = services.domain_check(domain_id=added.id, now=t, force=True)
    assert (domain.state, domain.held_hostname) == (FAILED, None)


def test_verify_now_on_a_failed_domain_starts_a_new_window(studio_a, alice, fake_dns):
    domain = make_domain(studio_a, HOST, FAILED, failure_reason="Deactivated: ...")
    fake_dns.prove(domain)
    fake_dns.route(domain)
    domain = services.domain_verify_now(domain=domain, by=alice)
    assert (domain.state, domain.failure_reason, domain.failed_at) == (ACTIVE, "", None)


# --- takeover ----------------------------------------------------------------------------------


@pytest.fixture
def a_holds_the_domain(studio_a, alice):
    carol = UserFactory(email="carol@example.com")
    MembershipFactory(studio=studio_a, user=carol, role=Role.OWNER)
    MembershipFactory(studio=studio_a, user=UserFactory(email="pat@example.com"), role=Role.ADMIN)
    return make_domain(studio_a, HOST, ACTIVE, is_primary=True)


def test_a_second_studio_proving_ownership_takes_the_domain_over(
    a_holds_the_domain, studio_a, studio_b, bob, fake_dns, django_capture_on_commit_callbacks
):
    theirs = services.domain_add(studio=studio_b, hostname=HOST, by=bob)
    fake_dns.prove(theirs)
    fake_dns.route(theirs)
    with django_capture_on_commit_callbacks(execute=True):
        theirs = services.domain_verify_now(domain=theirs, by=bob)
    assert (theirs.state, theirs.held_hostname) == (ACTIVE, HOST)

    old = Domain.objects.get(pk=a_holds_the_domain.pk)
    assert (old.state, old.held_hostname, old.is_primary) == (FAILED, None, False)
    assert (old.taken_over_by_id, old.taken_over_at) == (studio_b.id, theirs.verified_at)
    assert old.failure_reason.startswith(f"Another PicPick studio proved that it controls {HOST}")

    # Studio A's owners (not its admin) are told, by email, after the commit.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["alice@example.com", "carol@example.com"]
    assert message.subject == f"{HOST} now belongs to another PicPick studio"
    assert "https://annasmith.localhost" in message.body
    assert "Bob" not in message.body  # the other studio is not named

    # The host now serves studio B; studio A's site URL falls back to its subdomain.
    site = selectors.site_for_host(host=HOST)
    assert (site.studio_id, site.domain_id) == (studio_b.id, theirs.id)
    assert selectors.studio_site_url(studio=studio_a) == "https://annasmith.localhost"


def test_no_takeover_without_the_txt_record(a_holds_the_domain, studio_b, bob, fake_dns):
    theirs = services.domain_add(studio=studio_b, hostname=HOST, by=bob)
    fake_dns.route(theirs)  # pointing the name at us is not proof: anyone's records may
    fake_dns.prove(a_holds_the_domain)  # and the first studio's token proves nothing for B
    theirs = services.domain_verify_now(domain=theirs, by=bob)
    assert theirs.state == PENDING
    a_holds_the_domain.refresh_from_db()
    assert a_holds_the_domain.state == ACTIVE
    assert mail.outbox == []


def test_the_check_constraints_hold_one_holder_per_hostname(studio_a, studio_b):
    from django.db import IntegrityError, transaction

    make_domain(studio_a, HOST, ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_domain(studio_b, HOST, VERIFIED)
    with pytest.raises(IntegrityError), transaction.atomic():
        # held_hostname must follow the state
        Domain.objects.create(
            studio=studio_b,
            hostname="x.example.com",
            kind="subdomain",
            state=ACTIVE,
            challenge_token="t",
            verify_started_at=timezone.now(),
        )


def test_one_primary_per_studio_is_a_database_rule(studio_a):
    from django.db import IntegrityError, transaction

    make_domain(studio_a, HOST, ACTIVE, is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_domain(studio_a, "annasmith.com", ACTIVE, is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        # the flag and its unique slot move together
        make_domain(studio_a, "annasmith.net", ACTIVE, is_primary=True, primary_of=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_domain(studio_a, "annasmith.org", ACTIVE, primary_of=studio_a.id)


# --- claims and the beat sweeps ----------------------------------------------------------------


def test_a_due_row_is_claimed_by_one_check_only(added, fake_dns):
    t = added.next_check_at
    assert services._claim(domain_id=added.id, now=t, force=False) is True
    assert services._claim(domain_id=added.id, now=t, force=False) is False
    # The lease expires: a check whose worker died is due again.
    later = t + services.CHECK_LEASE
    assert services._claim(domain_id=added.id, now=later, force=False) is True


def test_a_duplicate_check_message_looks_nothing_up(added, fake_dns):
    t = added.next_check_at
    assert _check(added, t) is not None
    queries = len(fake_dns.queries)
    assert _check(added, t) is None
    assert len(fake_dns.queries) == queries


def test_sweeps_queue_only_due_checks_of_their_states(studio_a, studio_b, fake_dns):
    past = timezone.now() - timedelta(minutes=1)
    due_pending = make_domain(studio_a, "a.annasmith.com", PENDING, next_check_at=past)
    make_domain(studio_a, "b.annasmith.com", PENDING)  # not due
    due_active = make_domain(studio_b, "b.bobsweddings.com", ACTIVE, next_check_at=past)
    make_domain(studio_b, "c.bobsweddings.com", FAILED)
    fake_dns.route(due_active)

    assert tasks.domains_verify_sweep() == 1  # eager in tests: the checks ran
    due_pending.refresh_from_db()
    assert (due_pending.state, due_pending.check_attempts) == (PENDING, 1)
    assert tasks.domains_verify_sweep() == 0  # nothing due any more

    assert tasks.domains_recheck_sweep() == 1
    due_active.refresh_from_db()
    assert due_active.last_checked_at is not None and due_active.state == ACTIVE
    assert tasks.domains_recheck_sweep() == 0


def test_the_beat_schedule_runs_both_sweeps(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"domains.tasks.domains_verify_sweep", "domains.tasks.domains_recheck_sweep"} <= (
        scheduled
    )
    from picpick.celery import app

    route = app.amqp.router.route({}, "domains.tasks.domain_check")
    assert route["queue"].name == "default"


def test_a_result_for_a_state_that_changed_meanwhile_is_dropped(studio_a):
    from domains.dns import CheckResult

    domain = make_domain(studio_a, HOST, FAILED)
    result = CheckResult(ownership=True, routing=True)
    applied = services._apply(
        domain_id=domain.id, checked_state=PENDING, result=result, now=timezone.now()
    )
    assert applied.state == FAILED


def test_every_state_change_is_logged_with_context(added, fake_dns, caplog):
    fake_dns.prove(added)
    fake_dns.route(added)
    with caplog.at_level(logging.INFO, logger="domains"):
        services.domain_check(domain_id=added.id, now=timezone.now(), force=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "domains"]
    assert any(
        f"{HOST} ({added.id}) of studio {added.studio_id}: pending -> verified" in m for m in lines
    )
    assert any("verified -> active" in m for m in lines)
