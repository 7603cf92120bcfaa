"""A page of 50 of a job's and of a contact's timeline among 1,000,000 events, through the
real endpoints.

One studio; 10,000 jobs and 10,000 contacts; the events spread over them, except that the
measured job has 3,000 of its own and the measured contact 3,000 of its own plus those of the
three jobs it is linked to (the measured job and two with 1,000 each): 8,000 on its timeline.
The contact's page is the union of four index range scans (``paginate_union``, one
statement), the job's one.
Measured: the first page, again and again, and pages reached by a cursor from anywhere in the
history (every page's cursor collected by walking it once). The rows are built with
``bulk_create`` in batches; the build time is reported apart (it is not the target).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from bench import Result, percentile
from bench.django_env import QueryCounter, fresh_database
from bench.seed import studio_with_owner

EVENTS = 1_000_000
JOBS = 10_000
CONTACTS = 10_000
MEASURED_JOB_EVENTS = 3_000
MEASURED_CONTACT_EVENTS = 3_000
OTHER_LINKED_JOB_EVENTS = 1_000  # each of the contact's two other jobs
PAGE_SIZE = 50
BATCH = 5_000
REQUESTS = 200
WARMUP = 10
TARGET_P95_MS = 20
TARGET_JOB_QUERIES = 4  # the caller's membership, the job, the page (+ the studio when uncached)
TARGET_CONTACT_QUERIES = 5  # ... the contact, its jobs, the page (its four parts in one)

_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_SPAN_S = 2 * 365 * 24 * 3600


def _seed(rng: random.Random):
    from crm.models import Contact, Job, JobContact, Pipeline, Stage, TimelineEvent

    studio, owner = studio_with_owner(slug="bench-crm")
    pipeline = Pipeline.objects.create(studio=studio, name="Default", is_default=True)
    stage = Stage.objects.create(studio=studio, pipeline=pipeline, name="Inquiry", position=0)
    now = dt.datetime.now(dt.UTC)
    jobs = Job.objects.bulk_create(
        (
            Job(
                studio=studio,
                name=f"Job {n}",
                pipeline=pipeline,
                stage=stage,
                stage_entered_at=now,
                position=n,
                currency="EUR",
            )
            for n in range(JOBS)
        ),
        batch_size=BATCH,
    )
    contacts = Contact.objects.bulk_create(
        (
            Contact(studio=studio, first_name=f"C{n}", email=f"c{n}@bench.example")
            for n in range(CONTACTS)
        ),
        batch_size=BATCH,
    )
    job, contact = jobs[0], contacts[0]
    linked = [jobs[0], jobs[1], jobs[2]]
    JobContact.objects.bulk_create(
        JobContact(studio=studio, job=j, contact=contact, role="client") for j in linked
    )

    def at() -> dt.datetime:
        return _START + dt.timedelta(seconds=rng.random() * _SPAN_S)

    def targets():
        for _ in range(MEASURED_JOB_EVENTS):
            yield job.id, None
        for _ in range(MEASURED_CONTACT_EVENTS):
            yield None, contact.id
        for other in linked[1:]:
            for _ in range(OTHER_LINKED_JOB_EVENTS):
                yield other.id, None
        rest = EVENTS - MEASURED_JOB_EVENTS - MEASURED_CONTACT_EVENTS - 2 * OTHER_LINKED_JOB_EVENTS
        for n in range(rest):
            # The rest spread over the other jobs and contacts, half each.
            if n % 2:
                yield jobs[3 + rng.randrange(JOBS - 3)].id, None
            else:
                yield None, contacts[1 + rng.randrange(CONTACTS - 1)].id

    payload = {"text": "Called; they want a second shooter."}
    batch: list = []
    for job_id, contact_id in targets():
        batch.append(
            TimelineEvent(
                studio=studio,
                kind="note",
                occurred_at=at(),
                job_id=job_id,
                contact_id=contact_id,
                payload=payload,
            )
        )
        if len(batch) == BATCH:
            TimelineEvent.objects.bulk_create(batch)
            batch = []
    if batch:
        TimelineEvent.objects.bulk_create(batch)
    return studio, owner, job, contact


def _measure(client, connection, url: str, rng: random.Random, expected: int):
    def get(cursor: str | None) -> dict:
        params = {"page_size": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params)
        if response.status_code != 200:
            raise AssertionError(f"GET {url}: {response.status_code} {response.content[:300]!r}")
        return response.json()

    cursors: list[str] = []
    seen, page = 0, get(None)
    while True:
        seen += len(page["results"])
        if not page["next"]:
            break
        cursors.append(page["next"])
        page = get(page["next"])
    if seen != expected:
        raise AssertionError(f"walking {url} gave {seen} events, not {expected}")

    def timed(cursors_to_ask: list[str | None]) -> tuple[list[float], list[float], int]:
        for cursor in cursors_to_ask[:WARMUP]:
            get(cursor)
        timings, cpu, most = [], [], 0
        for cursor in cursors_to_ask:
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started, started_cpu = time.perf_counter(), time.process_time()
                body = get(cursor)
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            most = max(most, counter.count)
            if len(body["results"]) == 0:
                raise AssertionError("an empty page from a valid cursor")
        return timings, cpu, most

    first, first_cpu, first_queries = timed([None] * REQUESTS)
    deep, deep_cpu, deep_queries = timed(rng.choices(cursors, k=REQUESTS))
    return first, deep, first_cpu, deep_cpu, max(first_queries, deep_queries)


def run() -> list[Result]:
    with fresh_database():
        from django.db import connection
        from django.test import Client

        from accounts.tokens import token_pair_for

        rng = random.Random(20_261_207)
        started = time.perf_counter()
        studio, owner, job, contact = _seed(rng)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # as a long-lived database has its statistics
        build_s = time.perf_counter() - started

        access = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")
        job = _measure(
            client, connection, f"/api/v1/crm/jobs/{job.id}/timeline/", rng, MEASURED_JOB_EVENTS
        )
        contact_total = MEASURED_CONTACT_EVENTS + MEASURED_JOB_EVENTS + 2 * OTHER_LINKED_JOB_EVENTS
        contact = _measure(
            client, connection, f"/api/v1/crm/contacts/{contact.id}/timeline/", rng, contact_total
        )
        vendor = connection.vendor

    name = f"crm_timeline.{vendor}"
    results = [
        Result(name=f"{name}.build_1m_events", value=round(build_s, 1), unit="s", target=0, ok=True)
    ]
    for label, (first, deep, first_cpu, deep_cpu, queries), most in (
        ("job", job, TARGET_JOB_QUERIES),
        ("contact", contact, TARGET_CONTACT_QUERIES),
    ):
        results += [
            Result.at_most(
                f"{name}.{label}.first_page.p95", percentile(first, 0.95), "ms", TARGET_P95_MS
            ),
            Result.at_most(
                f"{name}.{label}.deep_page.p95", percentile(deep, 0.95), "ms", TARGET_P95_MS
            ),
            # CPU time of this process: on a shared machine the wall clock also counts the
            # time other processes held the cores (SQLite runs in-process, so this is the
            # database's work too, less any disk wait).
            Result.at_most(
                f"{name}.{label}.first_page.cpu_p95",
                percentile(first_cpu, 0.95),
                "ms",
                TARGET_P95_MS,
            ),
            Result.at_most(
                f"{name}.{label}.deep_page.cpu_p95", percentile(deep_cpu, 0.95), "ms", TARGET_P95_MS
            ),
            Result.at_most(f"{name}.{label}.queries", queries, "queries/request", most),
        ]
    return results
