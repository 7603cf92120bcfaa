"""The two processes of the killed-sweep test, run as ``python -m`` on a database file.

``process <action> <point>``: migrate, make a job whose workflow has one due step (send an
email or create a task), run the beat's sweep and SIGKILL the process at ``point``: right
after the claim commits (``claimed``) or inside the step's transaction once the action has
written its email or task but before the step is marked done (``acted``). No cleanup of any
kind runs. ``sweep``: what later beats see: prints the step run, the emails and tasks, runs
the sweep before the claim times out and after, then once more much later.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys

DUE = dt.datetime(2030, 6, 8, 9, 0, tzinfo=dt.UTC)


def _kill(*args, **kwargs) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _process(action: str, point: str) -> None:
    from django.core.management import call_command

    from accounts.models import Role
    from crm.models import Stage
    from crm.services import jobs, workflows
    from picpick.testing.factories import (
        ContactFactory,
        EmailTemplateFactory,
        MembershipFactory,
        PipelineFactory,
        StageFactory,
        StudioFactory,
        UserFactory,
        WorkflowFactory,
        WorkflowStepFactory,
    )

    call_command("migrate", verbosity=0)
    studio = StudioFactory(slug="killed")
    owner = UserFactory(email="owner@example.com")
    MembershipFactory(studio=studio, user=owner, role=Role.OWNER)
    stage = StageFactory(pipeline=PipelineFactory(studio=studio), kind=Stage.Kind.OPEN)
    workflow = WorkflowFactory(studio=studio, job_type="wedding")
    WorkflowStepFactory(
        workflow=workflow,
        offset_days=-7,
        action=action,
        template=EmailTemplateFactory(studio=studio) if action == "send_email" else None,
    )
    client = ContactFactory(studio=studio, first_name="Ana", email="ana@example.com")
    jobs.job_create(
        studio=studio,
        by=owner,
        name="Lee wedding",
        stage=stage,
        job_type="wedding",
        event_start=DUE + dt.timedelta(days=7, hours=5),
        contacts=[(client, "client", True)],
    )
    if point == "claimed":
        workflows.CLAIMED_HOOKS.append(_kill)
    else:
        workflows._finish = _kill  # the action's rows are written; "done" never is
    workflows.workflow_steps_sweep(now=DUE)
    sys.exit("still alive after the claim")


def _sweep() -> None:
    from crm.models import EmailMessage, Task, TimelineEvent, WorkflowStepRun
    from crm.services import workflows

    def report(tag: str) -> None:
        step_run = WorkflowStepRun.objects.get()
        print(f"{tag}_state={step_run.state}")
        print(f"{tag}_attempts={step_run.attempts}")
        print(f"{tag}_emails={EmailMessage.objects.count()}")
        print(f"{tag}_sent={EmailMessage.objects.filter(state='sent').count()}")
        print(f"{tag}_tasks={Task.objects.count()}")
        print(f"{tag}_events={TimelineEvent.objects.filter(kind='workflow_step').count()}")

    report("after_kill")
    # The next beat, a minute later: the claim is fresh, its worker may still be at it.
    print(f"ran_early={workflows.workflow_steps_sweep(now=DUE + dt.timedelta(minutes=1))}")
    # After the timeout: taken over and run once.
    late = DUE + workflows.STEP_TIMEOUT + dt.timedelta(minutes=1)
    print(f"ran_late={workflows.workflow_steps_sweep(now=late)}")
    report("after_sweep")
    print(f"ran_later={workflows.workflow_steps_sweep(now=late + dt.timedelta(hours=1))}")
    report("finally")


def main() -> None:
    import django

    django.setup()
    if sys.argv[1] == "process":
        _process(sys.argv[2], sys.argv[3])
    else:
        _sweep()


if __name__ == "__main__":
    main()
