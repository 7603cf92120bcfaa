"""Hook registrations of the CRM: work (tasks and workflows follow the jobs)."""

from crm.services import jobs, workflows


def register() -> None:
    """Called once from CrmConfig.ready."""
    if workflows.on_stage_entered not in jobs.STAGE_ENTERED_HOOKS:
        jobs.STAGE_ENTERED_HOOKS.append(workflows.on_stage_entered)
    # Tasks due relative to a date and the workflows' offset steps move with the job's dates.
    if workflows.on_job_dates_changed not in jobs.JOB_DATES_CHANGED_HOOKS:
        jobs.JOB_DATES_CHANGED_HOOKS.append(workflows.on_job_dates_changed)
