"""The beat runs the CRM's sweeps every minute, and each entry names a registered task."""

from django.conf import settings

from picpick.celery import app


def test_the_crm_sweeps_are_on_the_beat_every_minute():
    entries = {e["task"]: e for e in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("crm.tasks.work.crm_workflow_steps_sweep", "crm.tasks.work.crm_emails_sweep"):
        assert entries[name]["schedule"].total_seconds() == 60
        assert name in app.tasks
