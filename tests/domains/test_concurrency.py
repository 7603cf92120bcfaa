"""Checks racing each other on MariaDB's row locks: one claim per due check, one holder per name."""

from __future__ import annotations

import pytest
from django.db import connection

from domains import services
from domains.models import Domain
from tests.domains.conftest import make_domain
from tests.races import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite serialises all writers; the race needs MariaDB's row locks",
    ),
]

HOST = "photos.annasmith.com"


def test_four_workers_checking_one_due_domain_look_it_up_once(studio_a, fake_dns):
    domain = make_domain(studio_a, HOST)
    Domain.objects.filter(pk=domain.pk).update(next_check_at=domain.verify_started_at)
    fake_dns.prove(domain)

    results = race(4, lambda _: services.domain_check(domain_id=domain.id))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(r is not None for r in results) == 1
    assert fake_dns.queries.count((domain.txt_name, "TXT")) == 1
    domain.refresh_from_db()
    assert domain.state == Domain.State.VERIFIED


def test_two_studios_taking_over_one_name_at_once_leave_one_holder(studio_a, studio_b, fake_dns):
    from picpick.testing.factories import StudioFactory

    studio_c = StudioFactory(slug="carolsstudio")
    held = make_domain(studio_a, HOST, Domain.State.ACTIVE)
    contenders = [make_domain(studio, HOST) for studio in (studio_b, studio_c)]
    fake_dns.set(f"_picpick-challenge.{HOST}", "TXT", *(d.challenge_token for d in contenders))

    results = race(
        2,
        lambda index: services.domain_check(domain_id=contenders[index].id, force=True),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    holders = Domain.objects.filter(held_hostname=HOST)
    assert holders.count() == 1
    assert holders.get().studio_id in {studio_b.id, studio_c.id}
    held.refresh_from_db()
    assert held.state == Domain.State.FAILED
