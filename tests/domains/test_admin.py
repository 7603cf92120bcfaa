"""Staff see every studio's domains; the admin changes nothing by hand but runs the services."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse

from accounts.models import User
from domains import tasks
from domains.models import Domain
from tests.domains.conftest import make_domain

CUSTOM = "photos.annasmith.com"


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("sam@picpick.example", "not-used-42-x"))
    return client


def test_domains_are_read_only_and_cannot_be_added(staff_client, studio_a):
    domain = make_domain(studio_a, CUSTOM, Domain.State.ACTIVE)
    page = staff_client.get(reverse("admin:domains_domain_change", args=[domain.pk]))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert staff_client.get(reverse("admin:domains_domain_add")).status_code == 403


def test_deleting_in_the_admin_stops_the_host_at_once(staff_client, studio_a):
    domain = make_domain(studio_a, CUSTOM, Domain.State.ACTIVE)
    assert Client().get("/healthz", HTTP_HOST=CUSTOM).status_code == 200  # now cached
    response = staff_client.post(
        reverse("admin:domains_domain_delete", args=[domain.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Domain.objects.exists()
    assert Client().get("/healthz", HTTP_HOST=CUSTOM).status_code == 400


def test_check_soon_action_makes_domains_due_for_the_next_sweep(staff_client, studio_a, fake_dns):
    domain = make_domain(studio_a, CUSTOM)
    failed = make_domain(studio_a, "old.annasmith.com", Domain.State.FAILED, failure_reason="x")
    fake_dns.prove(domain)
    fake_dns.route(domain)
    response = staff_client.post(
        reverse("admin:domains_domain_changelist"),
        {"action": "check_soon", helpers.ACTION_CHECKBOX_NAME: [str(domain.pk), str(failed.pk)]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.failure_reason) == (Domain.State.PENDING, "")
    assert tasks.domains_verify_sweep() == 2
    domain.refresh_from_db()
    assert domain.state == Domain.State.ACTIVE
