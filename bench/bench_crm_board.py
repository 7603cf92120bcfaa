"""The CRM board of a pipeline at 100 and at 10,000 jobs, through the real API endpoint.

The contract measured: ``GET /api/v1/crm/board/?pipeline=...`` answers every stage's count, value
totals per currency and first cards (with a cursor per column) in a constant number of queries
whatever the number of jobs, and at 10,000 jobs in one pipeline within the latency target.
Jobs are spread over the stages as a working studio's are (most finished or archived), each
with a billing contact (the card shows the client's name).
"""

from __future__ import annotations

import random
import statistics
import time

from bench import Result, percentile
from bench.django_env import QueryCounter, fresh_database
from bench.seed import studio_with_owner

SIZES = (100, 10_000)
PER_STAGE = 20
REQUESTS = 200
WARMUP = 20
TARGET_P95_MS = 50
TARGET_QUERIES = 10
# Share of the jobs per stage of the default pipeline, in its order.
WEIGHTS = (8, 4, 6, 3, 3, 2, 40, 14, 20)


def _add_jobs(studio, pipeline, count: int, start: int) -> None:
    from django.utils import timezone

    from crm.models import Contact, Job, JobContact, Stage

    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    rng = random.Random(20_261_207 + start)
    now = timezone.now()
    jobs, contacts, links = [], [], []
    for i in range(start, start + count):
        stage = rng.choices(stages, weights=WEIGHTS)[0]
        job = Job(
            studio=studio,
            pipeline=pipeline,
            stage=stage,
            name=f"Job {i}",
            job_type=rng.choice(["wedding", "portrait", "family"]),
            stage_entered_at=now,
            position=i,
            estimated_value=rng.randrange(0, 800_000),
            currency=rng.choice(["USD", "USD", "USD", "EUR"]),
        )
        contact = Contact(studio=studio, first_name=f"Client{i}", last_name="Smith")
        jobs.append(job)
        contacts.append(contact)
        links.append(JobContact(studio=studio, job=job, contact=contact, is_billing=True))
    Job.objects.bulk_create(jobs, batch_size=1000)
    Contact.objects.bulk_create(contacts, batch_size=1000)
    JobContact.objects.bulk_create(links, batch_size=1000)


def _measure(client, url: str, expected_jobs: int) -> tuple[list[float], list[int]]:
    from django.db import connection

    def get() -> dict:
        response = client.get(url)
        if response.status_code != 200:
            raise AssertionError(
                f"GET {url} answered {response.status_code}: {response.content[:300]!r}"
            )
        return response.json()

    body = get()
    total = sum(column["count"] for column in body["stages"])
    if total != expected_jobs:
        raise AssertionError(f"the board counted {total} jobs, not {expected_jobs}")
    for _ in range(WARMUP):
        get()
    timings_ms: list[float] = []
    queries: list[int] = []
    for _ in range(REQUESTS):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            get()
            timings_ms.append((time.perf_counter() - started) * 1000)
        queries.append(counter.count)
    return timings_ms, queries


def run() -> list[Result]:
    results: list[Result] = []
    with fresh_database():
        from django.test import Client

        from accounts.tokens import token_pair_for
        from crm.services.pipelines import pipeline_default_ensure

        studio, owner = studio_with_owner(slug="bench-crm")
        pipeline = pipeline_default_ensure(studio=studio)
        access = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")
        url = f"/api/v1/crm/board/?pipeline={pipeline.id}&per_stage={PER_STAGE}"
        made = 0
        for size in SIZES:
            _add_jobs(studio, pipeline, size - made, made)
            made = size
            timings_ms, queries = _measure(client, url, size)
            results += [
                Result.at_most(
                    f"crm_board.{size}.median", statistics.median(timings_ms), "ms", TARGET_P95_MS
                ),
                Result.at_most(
                    f"crm_board.{size}.p95", percentile(timings_ms, 0.95), "ms", TARGET_P95_MS
                ),
                Result.at_most(
                    f"crm_board.{size}.queries", max(queries), "queries/request", TARGET_QUERIES
                ),
            ]
    # The same count at both sizes: the board reads no row per job.
    counts = {r.value for r in results if r.name.endswith(".queries")}
    results.append(
        Result(
            name="crm_board.queries_constant",
            value=float(len(counts) == 1),
            unit="bool",
            target=1.0,
            ok=len(counts) == 1,
        )
    )
    return results
