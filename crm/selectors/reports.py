"""The CRM's reports: inquiries per month and source, conversion to booked, time per stage,
upcoming events. Periods are dates in the studio's time zone.

Months are bucketed in Python from the rows' timestamps, not with the database's month
truncation: MariaDB converts time zones only when its zone tables are loaded (CONVERT_TZ
answers NULL otherwise), and a studio's jobs per report period are thousands, not millions.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from dataclasses import dataclass

from django.db.models import Avg, Count
from django.utils import timezone

from accounts.models import Studio
from crm.models import Inquiry, Job, Pipeline, Stage, StageChange

MAX_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """[start, end) as aware datetimes; ``first`` and ``last`` the dates asked for."""

    first: dt.date
    last: dt.date
    start: dt.datetime
    end: dt.datetime
    zone: zoneinfo.ZoneInfo


def period_for(*, studio: Studio, first: dt.date, last: dt.date) -> Period:
    """The days ``first`` to ``last`` (both included) in the studio's time zone."""
    zone = zoneinfo.ZoneInfo(studio.timezone or "UTC")
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return Period(first=first, last=last, start=start, end=end, zone=zone)


def _month(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m")


def _months(period: Period) -> list[str]:
    months, year, month = [], period.first.year, period.first.month
    while (year, month) <= (period.last.year, period.last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def inquiries_report(*, studio: Studio, period: Period) -> dict:
    """Jobs created per month and lead source, and inquiries received per month."""
    jobs = Counter(
        (_month(created, period.zone), source)
        for created, source in Job.objects.filter(
            studio=studio, created_at__gte=period.start, created_at__lt=period.end
        ).values_list("created_at", "lead_source")
    )
    inquiries = Counter(
        _month(created, period.zone)
        for created in Inquiry.objects.filter(
            studio=studio, created_at__gte=period.start, created_at__lt=period.end
        ).values_list("created_at", flat=True)
    )
    return {
        "jobs": [
            {"month": month, "lead_source": source, "count": count}
            for (month, source), count in sorted(jobs.items())
        ],
        "inquiries": [{"month": m, "count": inquiries.get(m, 0)} for m in _months(period)],
    }


def conversion_report(*, studio: Studio, period: Period, pipeline: Pipeline | None) -> dict:
    """Of the jobs created in the period, how many reached a booked stage (by now), overall and
    per month of creation. ``rate`` is booked / created, 0 when nothing was created."""
    jobs = Job.objects.filter(
        studio=studio, created_at__gte=period.start, created_at__lt=period.end
    )
    if pipeline is not None:
        jobs = jobs.filter(pipeline=pipeline)
    created: Counter[str] = Counter()
    booked: Counter[str] = Counter()
    for created_at, booked_at in jobs.values_list("created_at", "booked_at"):
        month = _month(created_at, period.zone)
        created[month] += 1
        if booked_at is not None:
            booked[month] += 1

    def rate(b: int, c: int) -> float:
        return round(b / c, 4) if c else 0.0

    total_c, total_b = sum(created.values()), sum(booked.values())
    return {
        "created": total_c,
        "booked": total_b,
        "rate": rate(total_b, total_c),
        "months": [
            {
                "month": m,
                "created": created[m],
                "booked": booked[m],
                "rate": rate(booked[m], created[m]),
            }
            for m in _months(period)
        ],
    }


def stage_time_report(*, studio: Studio, pipeline: Pipeline, period: Period) -> list[dict]:
    """Per stage of the pipeline (in order), the moves out of it during the period and the
    average whole seconds jobs had spent in it."""
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id"))
    rows = {
        row["from_stage_id"]: row
        for row in StageChange.objects.filter(
            studio=studio,
            from_stage__pipeline=pipeline,
            seconds_in_from__isnull=False,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .values("from_stage_id")
        .annotate(n=Count("id"), avg=Avg("seconds_in_from"))
        .order_by()
    }
    report = []
    for stage in stages:
        row = rows.get(stage.id)
        report.append(
            {
                "stage": stage,
                "moves": row["n"] if row else 0,
                "average_seconds": round(row["avg"]) if row else None,
            }
        )
    return report


def upcoming_events(*, studio: Studio, limit: int, now: dt.datetime | None = None) -> list[Job]:
    """The next ``limit`` jobs by event start from now, lost and archived ones left out."""
    return list(
        Job.objects.filter(studio=studio, event_start__gte=now or timezone.now())
        .exclude(stage__kind__in=[Stage.Kind.LOST, Stage.Kind.ARCHIVED])
        .select_related("stage", "owner")
        .order_by("event_start", "id")[:limit]
    )
