"""``manage.py ledger_check [--studio <id>]``: recompute every balance and transaction of the
ledger from its entries (``billing.services.reconcile``), showing the counts as it goes.

Prints a summary and the first drifts; exits 1 when anything drifted (so a deploy step or a
cron job fails loudly), 0 when the books are sound. The run is recorded either way (the
admin's "Ledger check runs"); the nightly task runs the same check.
"""

from __future__ import annotations

import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Studio
from billing.services.reconcile import ledger_check

SHOWN_DRIFTS = 20


class Command(BaseCommand):
    help = "Check the ledger: every balance and transaction against its entries; exit 1 on drift."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--studio", help="Check only this studio (its id).")

    def handle(self, *args, **options) -> None:
        studio = None
        if options["studio"]:
            try:
                studio = Studio.objects.get(id=uuid.UUID(options["studio"]))
            except (ValueError, Studio.DoesNotExist):
                raise CommandError(f"No studio with the id {options['studio']!r}.") from None

        started = time.monotonic()
        interactive = self.stderr.isatty()
        last = {"shown": 0.0}

        def progress(stage: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last["shown"] < 1.0:
                return
            last["shown"] = now
            line = f"{stage}: {done:,} / {total:,} checked"
            if interactive:
                self.stderr.write(f"\r{line}", ending="\n" if done >= total else "")
            else:
                self.stderr.write(line)

        run = ledger_check(studio=studio, progress=progress)
        seconds = time.monotonic() - started
        scope = f"studio {studio.id}" if studio is not None else "all studios"
        counts = (
            f"{run.accounts_checked:,} accounts, {run.transactions_checked:,} transactions, "
            f"{run.entries_checked:,} entries in {seconds:.1f} s"
        )
        if run.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK ({scope}): {counts}. Run {run.id}."))
            return
        self.stdout.write(
            self.style.ERROR(f"Ledger DRIFT ({scope}): {run.drift_count:,} drift(s); {counts}.")
        )
        for drift in run.drifts[:SHOWN_DRIFTS]:
            self.stdout.write(f"  {drift}")
        if run.drift_count > SHOWN_DRIFTS:
            self.stdout.write(f"  ... and {run.drift_count - SHOWN_DRIFTS:,} more (run {run.id}).")
        raise CommandError(f"The ledger drifted (run {run.id}).", returncode=1)
