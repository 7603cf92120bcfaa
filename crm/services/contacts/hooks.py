"""Calls into the apps above the CRM when a contact is deleted or merged, registered from their
``AppConfig.ready`` (billing does: a contact's wallets, ledger accounts, payments and cards),
so the CRM never imports them. Both run inside the transaction of the change, with the
contacts' rows locked; whatever a hook raises undoes the whole change.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import User
from crm.models import Contact

# (contact): about to be deleted (locked, on no job, nothing deleted yet). A guard refuses by
# raising ``picpick.core.errors.Conflict`` (rows of its app that point at the contact).
CONTACT_DELETE_GUARDS: list[Callable[[Contact], None]] = []
# (survivor, merged, by): the CRM has moved its own rows onto ``survivor`` and left ``merged``
# a tombstone; both rows are locked. A hook moves its app's rows (or refuses the whole merge
# with an ``ApplicationError``/``Conflict``: nothing is written then). It records nothing on
# the timeline: the CRM records the merge.
CONTACT_MERGE_HOOKS: list[Callable[[Contact, Contact, User | None], None]] = []


def contact_delete_guards_run(contact: Contact) -> None:
    for guard in list(CONTACT_DELETE_GUARDS):
        guard(contact)


def contact_merge_hooks_run(survivor: Contact, merged: Contact, by: User | None) -> None:
    for hook in list(CONTACT_MERGE_HOOKS):
        hook(survivor, merged, by)
