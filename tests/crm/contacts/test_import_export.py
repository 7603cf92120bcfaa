"""The contacts CSV import (a background job) and the CSV exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Contact, ContactPhone, ImportJob, Tag
from crm.services.contacts import contact_import_run
from picpick.testing.factories import ContactFactory, JobContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/crm/contacts/imports/"
HEADER = "First Name,Last Name,Email,Phone,Company,Address,City,State,Zip,Country,Tags,Notes\n"


def _upload(client, data: bytes, capture, **fields):
    with capture(execute=True):
        r = client.post(
            URL,
            {"file": SimpleUploadedFile("contacts.csv", data, "text/csv"), **fields},
            format="multipart",
        )
    assert r.status_code == 202, r.json()
    return client.get(f"{URL}{r.json()['id']}/").json()


def _rows(n: int, bad: set[int] = frozenset()) -> bytes:
    out = io.StringIO()
    out.write(HEADER)
    for i in range(n):
        phone = "12" if i in bad else f"+1415555{i % 10000:04d}"
        out.write(f"Client{i},Family{i},client{i}@example.com,{phone},,,,,,US,wedding,\n")
    return out.getvalue().encode()


def test_ten_thousand_rows_three_bad_then_a_rerun_adds_nothing(
    alice_client, studio_a, local_storage, django_capture_on_commit_callbacks
):
    data = _rows(10_000, bad={10, 5000, 9999})
    job = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert job["state"] == "done", job
    assert job["rows_total"] == 10_000 and job["rows_done"] == 10_000
    assert job["created_count"] == 9_997 and job["error_count"] == 3
    assert [(e["row"], e["code"]) for e in job["errors"]] == [
        (12, "invalid_phone"),
        (5002, "invalid_phone"),
        (10001, "invalid_phone"),
    ]
    assert Contact.objects.filter(studio=studio_a, source="import").count() == 9_997
    assert ContactPhone.objects.filter(studio=studio_a).count() == 9_997
    assert Tag.objects.filter(studio=studio_a).count() == 1
    again = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert again["file_sha256"] == job["file_sha256"]
    assert again["created_count"] == 0 and again["skipped_count"] == 9_997
    assert again["error_count"] == 3
    assert Contact.objects.filter(studio=studio_a).count() == 9_997


def test_existing_and_repeated_emails_are_skipped(
    alice_client, studio_a, local_storage, django_capture_on_commit_callbacks
):
    from crm.services.contacts import contact_create

    contact_create(studio=studio_a, by=None, first_name="Old", emails=["a@example.com"])
    data = (
        HEADER + "A,A,A@Example.com,,,,,,,,,\nB,B,b@example.com,,,,,,,,,\n"
        "B2,B,b@example.com,,,,,,,,,\n"
    ).encode()
    job = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert job["created_count"] == 1 and job["skipped_count"] == 2
    assert Contact.objects.get(email="a@example.com").first_name == "Old"


@pytest.mark.parametrize(
    "data",
    [
        "First Name,Email,Country\nJosé,jose@example.com,ES\n".encode("cp1252"),
        "\ufeffFirst Name,Email,Country\nJosé,jose@example.com,ES\n".encode(),
    ],
    ids=["cp1252", "utf8-bom"],
)
def test_windows_and_bom_files_are_read(
    alice_client, local_storage, django_capture_on_commit_callbacks, data
):
    job = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert job["state"] == "done" and job["created_count"] == 1
    assert Contact.objects.get().first_name == "José"


@pytest.mark.parametrize(
    "data",
    ["First Name,Email\nAna,a@example.com\n".encode("utf-16"), b"Name,Email\n\x81\x8d,a@x.com\n"],
    ids=["utf16", "undefined-bytes"],
)
def test_bad_encoding_fails_the_job(
    alice_client, local_storage, django_capture_on_commit_callbacks, data
):
    job = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert job["state"] == "failed" and job["failure_code"] == "bad_encoding"
    assert not Contact.objects.exists()


def test_missing_columns_fail_the_job(
    alice_client, local_storage, django_capture_on_commit_callbacks
):
    job = _upload(
        alice_client, b"First Name,Phone\nAna,+14155550100\n", django_capture_on_commit_callbacks
    )
    assert job["state"] == "failed" and job["failure_code"] == "missing_columns"
    assert "Email" in job["errors"][0]["message"]


def test_honeybook_style_full_name_and_bad_rows(
    alice_client, local_storage, django_capture_on_commit_callbacks
):
    data = (
        b"Full Name,Email Address,Phone Number,Company Name,Zip Code,Country\n"
        b"Ana Maria Lima,ana@example.com,(415) 555-0100,Lima Co,94110,US\n"
        b"No Email,,,,,\n"
        b"Bad Mail,not-an-email,,,,\n"
        b"Bad Land,land@example.com,,,,Atlantis\n"
    )
    job = _upload(alice_client, data, django_capture_on_commit_callbacks)
    assert job["created_count"] == 1
    assert [e["code"] for e in job["errors"]] == [
        "missing_email",
        "invalid_email",
        "invalid_country",
    ]
    ana = Contact.objects.get(email="ana@example.com")
    assert (ana.first_name, ana.last_name, ana.company) == ("Ana", "Maria Lima", "Lima Co")
    assert ana.phone == "+14155550100" and ana.postal_code == "94110"


def test_mapping_layout(alice_client, local_storage, django_capture_on_commit_callbacks):
    data = b"Who,Mail\nAna,ana@example.com\n"
    job = _upload(
        alice_client,
        data,
        django_capture_on_commit_callbacks,
        layout="mapping",
        mapping='{"Who": "first_name", "Mail": "email"}',
    )
    assert job["state"] == "done" and job["created_count"] == 1
    r = alice_client.post(
        URL,
        {
            "file": SimpleUploadedFile("c.csv", data, "text/csv"),
            "layout": "mapping",
            "mapping": '{"Who": "shoe_size"}',
        },
        format="multipart",
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_mapping"


def test_a_duplicate_delivery_runs_nothing_twice(
    alice_client, local_storage, django_capture_on_commit_callbacks
):
    job = _upload(alice_client, _rows(3), django_capture_on_commit_callbacks)
    assert contact_import_run(import_job_id=job["id"]) is None
    assert ImportJob.objects.get(id=job["id"]).created_count == 3


def test_import_needs_crm_edit(member_of_a, local_storage):
    _, photographer = member_of_a("photographer")
    r = photographer.post(
        URL, {"file": SimpleUploadedFile("c.csv", b"x", "text/csv")}, format="multipart"
    )
    assert r.status_code == 403


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_contact_export_streams_live_contacts_of_the_studio(alice_client, studio_a, studio_b):
    from crm.services.contacts import contact_create

    contact_create(
        studio=studio_a, by=None, first_name="Ana", emails=["a@example.com"], tags=["vip"]
    )
    ContactFactory(studio=studio_b, first_name="Other")
    r = alice_client.get("/api/v1/crm/contacts/export/")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = _csv(r)
    assert rows[0][:3] == ["id", "first_name", "last_name"]
    assert len(rows) == 2 and rows[1][1] == "Ana" and rows[1][13] == "vip"


def test_job_export(alice_client, studio_a, studio_b):
    link = JobContactFactory(job__stage__pipeline__studio=studio_a, job__estimated_value=250000)
    JobContactFactory(job__stage__pipeline__studio=studio_b)
    rows = _csv(alice_client.get("/api/v1/crm/jobs/export/"))
    assert len(rows) == 2
    assert rows[1][0] == str(link.job_id) and rows[1][7] == "250000" and rows[1][8] == "USD"
