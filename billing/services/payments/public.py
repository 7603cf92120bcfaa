"""The client pages' side of payments: who may start one, and how often.

A wallet top-up is for the contact named by the client's wallet link (the signed, expiring
token of the wallets' page, ``wallet_link_read``): the page is reached from that link, so only
the person it was sent to tops up their wallet, and nobody invents contacts from a public
form. A gift card is bought by anyone (no contact: the buyer's name and email are on the card
and the payment).

Public starts are counted per client address and per studio (``picpick.core.ratelimit``,
atomic in the cache); status reads per address. Past a limit: 429 with Retry-After. The public
endpoints carry no cookie credential (a start acts for nobody; the status needs the payment's
own token), so they need no CSRF token: a cross-site page could start a payment, never read
its client secret (no CORS) nor pay it.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import Studio
from billing.services.wallets import wallet_link_read
from crm.models import Contact
from picpick.core import ratelimit
from picpick.core.errors import ApplicationError, NotFound, RateLimited

HOUR = 3600


def wallet_link_contact(*, studio: Studio, token: str) -> Contact:
    """The contact of a wallet link on this studio's site; 404 for a forged, expired or
    another studio's link, or a contact merged or erased since."""
    found = wallet_link_read(token)
    if found is None or found[0] != studio.id:
        raise NotFound(
            "This wallet link is not valid (it may have expired).", code="wallet_link_invalid"
        )
    contact = Contact.objects.filter(studio=studio, pk=found[1]).first()
    if contact is None or contact.merged_into_id is not None or contact.erased_at is not None:
        raise NotFound("This wallet link is not valid any more.", code="wallet_link_invalid")
    contact.studio = studio
    return contact


def start_allowed(*, studio: Studio, address: str) -> None:
    """One public start counted for the client address, then the studio; 429 past either."""
    keys = [
        (
            f"pay-start:{ratelimit.client_hash(address, purpose='pay-start')}",
            settings.PICPICK_PAYMENTS_STARTS_PER_ADDRESS,
        ),
        (f"pay-start-studio:{studio.id}", settings.PICPICK_PAYMENTS_STARTS_PER_STUDIO),
    ]
    wait = ratelimit.take(keys, window=HOUR)
    if wait is not None:
        raise RateLimited(
            "Too many payments started from here; try again later.",
            retry_after=wait,
            code="too_many_payments",
        )


def status_allowed(*, address: str) -> None:
    key = f"pay-status:{ratelimit.client_hash(address, purpose='pay-status')}"
    wait = ratelimit.take([(key, settings.PICPICK_PAYMENTS_STATUS_PER_ADDRESS)], window=HOUR)
    if wait is not None:
        raise RateLimited("Too many status reads; try again later.", retry_after=wait)


def site_studio_required(studio: Studio | None) -> Studio:
    if studio is None:
        raise ApplicationError(
            "Payments are started on the studio's own site.", code="not_found", status=404
        )
    return studio
