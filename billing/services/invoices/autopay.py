"""Autopay: an instalment charged off-session to the contact's saved card on its due date,
retried on the studio's dunning days, then overdue with the studio told.

Turning it on: ``instalment_autopay_set`` (one instalment) or ``invoice_autopay_set`` (all the
unpaid ones) with a saved card of the invoice's contact; the first try is the due date at the
studio's morning. A card saved while paying the invoice turns it on for what is left
(``autopay_payment_booked``, a hook of the invoice payments, queues ``autopay_from_payment``).

Charging (``autopay_charge``) follows the house rule for I/O:

1. Claim, in one short transaction under the invoice's row lock: ``Instalment.attempts`` goes
   from n to n+1 by a conditional UPDATE (``WHERE attempts = n AND next_attempt_at <= now``),
   so exactly one worker wins, and the ``AutopayAttempt`` row number n+1 is inserted with it,
   holding the amount (what is left of the instalment and of any unpaid one before it, read
   under the lock: payments apply in due order) and the claim.
   Nothing left (paid by hand meanwhile): the attempt is ``skipped``, nothing is charged.
2. The charge, outside any transaction: ``payment_start`` keyed ``autopay:<attempt id>`` on the
   saved card, off-session. The key is the ATTEMPT's: a worker killed after the provider charged
   but before anything was recorded is resumed with the same attempt row, hence the same
   payment row (whose provider key is ``pay:<payment id>``), and the provider answers with the
   same intent, never a second charge. A claim older than ``CLAIM_TIMEOUT`` is taken over and
   RESUMED (same attempt, same key), never retried under a new number.
3. The outcome, applied atomically under the invoice's row lock (``autopay_attempt_apply``):
   a success was booked by the payment services (the invoice's status follows); a decline
   schedules the next try on the first dunning day still ahead (``dunning_days``, offsets from
   the due date) and tells the client; after the last one the instalment is ``overdue``, on the
   timeline, and the studio's owners and the client are told. A card that needs its holder
   (3-D Secure, ``authentication_required``) gets the client an email with the link to pay on
   the invoice's page; the dunning days still run, so the studio hears if nobody pays.

Outcomes the provider reports later (a processing charge, a 3-D Secure intent given up) come
through the invoice payments' hooks to the same apply, which only acts on an attempt still
claimed: whichever path is first applies it, the other changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from billing.models import AutopayAttempt, Instalment, Invoice, Payment, SavedCard
from billing.payments import ProviderError
from billing.services.invoices.common import amount_text, invoice_locked, logger
from billing.services.invoices.due import (
    OPEN_STATUSES,
    SWEEP_BATCH,
    UNPAID_STATES,
    day_offsets,
    morning_of,
    owed_by,
    takes_money,
)
from billing.services.invoices.notices import (
    autopay_action_email,
    autopay_failed_email,
    client_email_of,
    facts_of,
    overdue_client_email,
    overdue_studio_email,
)
from billing.services.invoices.status import receivable_balance
from billing.services.payments import payment_intent_ensure, payment_start
from billing.services.payments.common import CLAIM_TIMEOUT, provider
from billing.services.payments.outcome import saved_card_record
from billing.services.wallets import billing_settings_get
from billing.tasks.invoices import invoice_autopay_from_payment_soon
from crm.selectors.inquiries import studio_owner_emails
from crm.services.timeline import timeline_record
from picpick.core.email import email_send_on_commit
from picpick.core.errors import ApplicationError, Conflict, NotFound

State = AutopayAttempt.State
KEY_PREFIX = "autopay:"
# Answers that leave the outcome unknown: the attempt stays claimed and is resumed (same key)
# once its claim is stale.
_UNKNOWN = frozenset({"provider_unavailable", "payment_in_progress"})
# The attempt this worker is charging right now: its own outcome is applied by the worker
# (with the sweep's ``now``), not by the payment hooks that fire inside ``payment_start``.
_CHARGING: ContextVar[uuid.UUID | None] = ContextVar("autopay_charging", default=None)


# --- turning it on and off -------------------------------------------------------------------
def instalment_autopay_set(
    *,
    instalment: Instalment,
    saved_card: SavedCard | None,
    enabled: bool,
    now: dt.datetime | None = None,
) -> Instalment:
    """Charge this instalment to ``saved_card`` on its due date (or stop). 404
    ``card_not_found`` for a card not of the invoice's contact; 409 ``instalment_paid``,
    ``invoice_closed``; 400 ``card_required``."""
    (row,) = _autopay_set(
        invoice_id=instalment.invoice_id,
        instalment_id=instalment.id,
        saved_card=saved_card,
        enabled=enabled,
        now=now or timezone.now(),
    )
    return row


def invoice_autopay_set(
    *,
    invoice: Invoice,
    saved_card: SavedCard | None,
    enabled: bool,
    now: dt.datetime | None = None,
) -> list[Instalment]:
    """Autopay on (with ``saved_card``) or off for every unpaid instalment of the invoice; the
    instalments changed."""
    return _autopay_set(
        invoice_id=invoice.id,
        instalment_id=None,
        saved_card=saved_card,
        enabled=enabled,
        now=now or timezone.now(),
    )


def _autopay_set(
    *,
    invoice_id: uuid.UUID,
    instalment_id: uuid.UUID | None,
    saved_card: SavedCard | None,
    enabled: bool,
    now: dt.datetime,
) -> list[Instalment]:
    if enabled and saved_card is None:
        raise ApplicationError(
            "Autopay charges a saved card: name one.",
            code="card_required",
            fields={"saved_card_id": ["Required to turn autopay on."]},
        )
    with transaction.atomic():
        invoice = invoice_locked(invoice_id)
        if invoice.kind != Invoice.Kind.INVOICE or invoice.number is None:
            raise NotFound("No such invoice.", code="invoice_not_found")
        if saved_card is not None and (
            saved_card.studio_id != invoice.studio_id or saved_card.contact_id != invoice.contact_id
        ):
            raise NotFound("No such saved card.", code="card_not_found")
        if enabled and invoice.status not in OPEN_STATUSES:
            raise Conflict("This invoice takes no more payments.", code="invoice_closed")
        rows = Instalment.objects.filter(invoice=invoice).order_by("position")
        if instalment_id is not None:
            rows = rows.filter(pk=instalment_id)
        instalments = list(rows)
        if instalment_id is not None and not instalments:
            raise NotFound("No such instalment.", code="instalment_not_found")
        changed = []
        for row in instalments:
            if enabled:
                if not takes_money(invoice, row):
                    if instalment_id is not None:
                        raise Conflict("This instalment is paid.", code="instalment_paid")
                    continue
                if row.autopay and row.saved_card_id == saved_card.id and row.next_attempt_at:
                    continue  # already planned (maybe a dunning retry): left as it is
                row.autopay, row.saved_card = True, saved_card
                row.next_attempt_at = morning_of(invoice.studio, row.due_date)
            else:
                if not row.autopay and row.next_attempt_at is None:
                    continue
                row.autopay, row.saved_card, row.next_attempt_at = False, None, None
            row.updated_at = now
            changed.append(row)
        if changed:
            Instalment.objects.bulk_update(
                changed, ["autopay", "saved_card", "next_attempt_at", "updated_at"]
            )
    logger.info(
        "invoice %s: autopay %s for %d instalments",
        invoice_id,
        "on" if enabled else "off",
        len(changed),
    )
    return instalments if instalment_id is not None else changed


def autopay_from_payment(*, payment_id: uuid.UUID) -> list[Instalment]:
    """After an invoice payment that saved the client's card succeeded: autopay with that card
    for the invoice's unpaid instalments (a task queued by ``autopay_payment_booked``). The
    card is read from the payment's intent; recorded here if the payment services have not
    yet (the same get-or-create as theirs)."""
    payment = Payment.objects.select_related("studio").filter(pk=payment_id).first()
    if (
        payment is None
        or payment.purpose != Payment.Purpose.INVOICE
        or not payment.save_card
        or payment.state != Payment.State.SUCCEEDED
        or not payment.intent_id
    ):
        return []
    invoice = Invoice.objects.filter(pk=payment.reference_id, studio_id=payment.studio_id).first()
    if invoice is None or invoice.status not in OPEN_STATUSES:
        return []
    intent = provider().payment_intent_get(
        intent_id=payment.intent_id, account=payment.provider_account_id
    )
    if not intent.payment_method:
        return []
    card = SavedCard.objects.filter(
        studio_id=payment.studio_id, provider_payment_method_id=intent.payment_method
    ).first() or saved_card_record(payment=payment, intent=intent)
    if card is None or card.contact_id != invoice.contact_id:
        return []
    try:
        return invoice_autopay_set(invoice=invoice, saved_card=card, enabled=True)
    except Conflict:  # paid or closed meanwhile
        return []


# --- the sweep -------------------------------------------------------------------------------
def autopay_due(*, now: dt.datetime, limit: int = SWEEP_BATCH) -> list[uuid.UUID]:
    """Instalments to charge now: a try planned at or before ``now`` on an open invoice, and
    those whose attempt's claim went stale (a worker died mid-charge: resumed)."""
    stale = (
        AutopayAttempt.objects.filter(state=State.CLAIMED, claimed_at__lt=now - CLAIM_TIMEOUT)
        .order_by("claimed_at")
        .values_list("instalment_id", flat=True)[:limit]
    )
    due = (
        Instalment.objects.filter(
            autopay=True,
            next_attempt_at__lte=now,
            state__in=UNPAID_STATES,
            invoice__status__in=OPEN_STATUSES,
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    return list(dict.fromkeys([*stale, *due]))


def autopay_charge(
    *, instalment_id: uuid.UUID, now: dt.datetime | None = None
) -> AutopayAttempt | None:
    """Claim, charge and apply one try of the instalment (see the module). The attempt, or None
    when there was nothing to claim (not due, or another worker has it)."""
    now = now or timezone.now()
    attempt = _claim(instalment_id=instalment_id, now=now)
    if attempt is None or attempt.state != State.CLAIMED:
        return attempt
    token = _CHARGING.set(attempt.id)
    try:
        payment, code = _charge(attempt)
    finally:
        _CHARGING.reset(token)
    if payment is None and not code:
        return attempt  # the outcome is unknown: resumed (same key) once the claim is stale
    return autopay_attempt_apply(attempt_id=attempt.id, payment=payment, code=code, now=now)


def _claim(*, instalment_id: uuid.UUID, now: dt.datetime) -> AutopayAttempt | None:
    current = (
        AutopayAttempt.objects.filter(instalment_id=instalment_id, state=State.CLAIMED)
        .order_by("-number")
        .first()
    )
    if current is not None:
        return _take_over(current, now)
    seen = Instalment.objects.filter(pk=instalment_id).values("attempts", "invoice_id").first()
    if seen is None:
        return None
    number = seen["attempts"] + 1
    with transaction.atomic():
        invoice = invoice_locked(seen["invoice_id"])
        won = Instalment.objects.filter(
            pk=instalment_id,
            attempts=number - 1,
            autopay=True,
            next_attempt_at__lte=now,
        ).update(attempts=number, next_attempt_at=None, updated_at=now)
        if not won:
            return None
        row = Instalment.objects.select_related("saved_card").get(pk=instalment_id)
        amount = min(owed_by(row), receivable_balance(invoice))
        card = row.saved_card
        skip = ""
        if not takes_money(invoice, row) or amount <= 0:
            skip, amount = "nothing_due", 0
        elif card is None or card.contact_id != invoice.contact_id:
            skip = "no_card"
        attempt = AutopayAttempt.objects.create(
            studio_id=invoice.studio_id,
            instalment=row,
            number=number,
            amount=amount,
            currency=invoice.currency,
            state=State.SKIPPED if skip else State.CLAIMED,
            claim_token=None if skip else uuid.uuid4(),
            claimed_at=now,
            error_code=skip,
            finished_at=now if skip else None,
        )
        if skip == "no_card":
            Instalment.objects.filter(pk=row.pk).update(autopay=False, saved_card=None)
    if skip:
        logger.info("autopay of instalment %s: attempt %s skipped (%s)", row.id, number, skip)
    return attempt


def _take_over(attempt: AutopayAttempt, now: dt.datetime) -> AutopayAttempt | None:
    """A claimed attempt: another worker's while fresh; once stale, resumed by this one."""
    if attempt.claimed_at is not None and attempt.claimed_at >= now - CLAIM_TIMEOUT:
        return None
    token = uuid.uuid4()
    took = AutopayAttempt.objects.filter(
        pk=attempt.pk, state=State.CLAIMED, claim_token=attempt.claim_token
    ).update(claim_token=token, claimed_at=now, updated_at=now)
    if not took:
        return None
    logger.warning(
        "autopay attempt %s of instalment %s: stale claim taken over, resumed with its key",
        attempt.number,
        attempt.instalment_id,
    )
    attempt.claim_token, attempt.claimed_at = token, now
    if Payment.objects.filter(
        studio_id=attempt.studio_id, idempotency_key=f"{KEY_PREFIX}{attempt.id}"
    ).exists():
        return attempt  # the charge was started: resumed as it was asked (same amount)
    return _amount_refresh(attempt, now)


def _amount_refresh(attempt: AutopayAttempt, now: dt.datetime) -> AutopayAttempt:
    """A resumed attempt whose charge never started: what is owed now (the client may have
    paid by hand since the claim); nothing: skipped."""
    invoice_id = Instalment.objects.values_list("invoice_id", flat=True).get(
        pk=attempt.instalment_id
    )
    with transaction.atomic():
        invoice = invoice_locked(invoice_id)
        row = Instalment.objects.get(pk=attempt.instalment_id)
        amount = min(owed_by(row), receivable_balance(invoice)) if takes_money(invoice, row) else 0
        if amount > 0:
            AutopayAttempt.objects.filter(pk=attempt.pk).update(amount=amount, updated_at=now)
            attempt.amount = amount
            return attempt
        AutopayAttempt.objects.filter(pk=attempt.pk, state=State.CLAIMED).update(
            state=State.SKIPPED,
            amount=0,
            error_code="nothing_due",
            claim_token=None,
            finished_at=now,
            updated_at=now,
        )
    attempt.refresh_from_db()
    return attempt


def _charge(attempt: AutopayAttempt) -> tuple[Payment | None, str]:
    """The provider call, outside any transaction: (the payment, a refusal's code); (None, "")
    when the outcome is unknown (the provider did not answer, or the payment is being started
    by another worker)."""
    attempt = AutopayAttempt.objects.select_related(
        "instalment__invoice__studio", "instalment__invoice__contact", "instalment__saved_card"
    ).get(pk=attempt.pk)
    instalment = attempt.instalment
    invoice = instalment.invoice
    key = f"{KEY_PREFIX}{attempt.id}"
    existing = (
        Payment.objects.select_related("studio")
        .filter(studio_id=invoice.studio_id, idempotency_key=key)
        .first()
    )
    try:
        if existing is not None:  # resumed: the same payment, asked again with its own key
            payment, _ = payment_intent_ensure(payment=existing)
            return payment, ""
        card = instalment.saved_card
        if card is None:
            return None, "no_card"
        contact = invoice.contact
        payment, _ = payment_start(
            studio=invoice.studio,
            purpose=Payment.Purpose.INVOICE,
            amount=attempt.amount,
            currency=attempt.currency,
            payer_email=client_email_of(invoice),
            payer_name=" ".join(p for p in (contact.first_name, contact.last_name) if p),
            idempotency_key=key,
            contact=contact,
            reference_id=invoice.id,
            payment_method_id=card.provider_payment_method_id,
            description=f"Invoice {invoice.number}: {instalment.label}",
        )
        return payment, ""
    except ApplicationError as exc:
        if exc.code in _UNKNOWN:
            logger.warning("autopay attempt %s: %s, resumed later", attempt.id, exc.code)
            return None, ""
        payment = (
            Payment.objects.select_related("studio")
            .filter(studio_id=invoice.studio_id, idempotency_key=key)
            .first()
        )
        return payment, str(exc.extra.get("provider_code") or exc.code)
    except ProviderError as exc:  # reading a resumed payment's intent failed: later
        logger.warning("autopay attempt %s: provider %s, resumed later", attempt.id, exc.code)
        return None, ""


def _outcome(payment: Payment | None, code: str) -> tuple[str | None, str]:
    """The attempt's end from its payment (None: the payment is still open at the provider)."""
    if payment is None:
        return (State.SKIPPED if code == "no_card" else State.FAILED), code or "error"
    if payment.state == Payment.State.SUCCEEDED:
        return State.SUCCEEDED, ""
    if payment.state == Payment.State.REQUIRES_ACTION:
        return State.REQUIRES_ACTION, "authentication_required"
    if payment.state in (Payment.State.FAILED, Payment.State.CANCELED):
        codes = {payment.last_decline_code, payment.last_error_code, code}
        if "authentication_required" in codes:
            return State.REQUIRES_ACTION, "authentication_required"
        reason = payment.last_decline_code or payment.last_error_code or code
        return State.FAILED, reason or "card_declined"
    return None, ""


def autopay_attempt_apply(
    *,
    attempt_id: uuid.UUID,
    payment: Payment | None,
    code: str = "",
    now: dt.datetime | None = None,
) -> AutopayAttempt:
    """Apply a charge's outcome to its attempt and instalment, once (see the module)."""
    now = now or timezone.now()
    state, code = _outcome(payment, code)
    if state is None:  # processing at the provider: the payment hooks finish it
        AutopayAttempt.objects.filter(pk=attempt_id, payment__isnull=True).update(payment=payment)
        return AutopayAttempt.objects.get(pk=attempt_id)
    invoice_id = (
        AutopayAttempt.objects.filter(pk=attempt_id)
        .values_list("instalment__invoice_id", flat=True)
        .get()
    )
    with transaction.atomic():
        invoice = invoice_locked(invoice_id)
        done = AutopayAttempt.objects.filter(pk=attempt_id, state=State.CLAIMED).update(
            state=state,
            payment=payment,
            error_code=code[:64],
            finished_at=now,
            claim_token=None,
            updated_at=now,
        )
        attempt = AutopayAttempt.objects.get(pk=attempt_id)
        if not done:
            return attempt
        if state == State.SKIPPED:
            Instalment.objects.filter(pk=attempt.instalment_id).update(
                autopay=False, saved_card=None, next_attempt_at=None, updated_at=now
            )
        elif state in (State.FAILED, State.REQUIRES_ACTION):
            _dunning(invoice=invoice, attempt=attempt, code=code, now=now)
    logger.info(
        "autopay attempt %s of instalment %s: %s %s",
        attempt.number,
        attempt.instalment_id,
        state,
        code,
    )
    return attempt


def _dunning(*, invoice: Invoice, attempt: AutopayAttempt, code: str, now: dt.datetime) -> None:
    """A failed try (the invoice locked): the next one on the first dunning day still ahead and
    the client told; none left: overdue, on the timeline, the studio and the client told."""
    instalment = Instalment.objects.select_related("saved_card").get(pk=attempt.instalment_id)
    if not takes_money(invoice, instalment):
        return  # paid by hand (or closed) meanwhile: nothing to chase
    studio = invoice.studio
    days = day_offsets(billing_settings_get(studio=studio).dunning_days)
    retry = next(
        (
            instalment.due_date + dt.timedelta(days=d)
            for d in days
            if morning_of(studio, instalment.due_date + dt.timedelta(days=d)) > now
        ),
        None,
    )
    facts = facts_of(invoice, instalment, amount=attempt.amount)
    to = client_email_of(invoice)
    action = attempt.state == State.REQUIRES_ACTION
    if retry is not None and instalment.autopay:
        Instalment.objects.filter(pk=instalment.pk).update(
            next_attempt_at=morning_of(studio, retry), updated_at=now
        )
        if to:
            subject, body = (
                autopay_action_email(facts, retry_on=facts.date(retry))
                if action
                else autopay_failed_email(facts, code=code, retry_on=facts.date(retry))
            )
            email_send_on_commit(subject=subject, body=body, to=[to])
        return
    Instalment.objects.filter(pk=instalment.pk).update(
        state=Instalment.State.OVERDUE, overdue_at=now, next_attempt_at=None, updated_at=now
    )
    timeline_record(
        studio=studio,
        kind="invoice_overdue",
        payload={
            "invoice_id": str(invoice.id),
            "number": invoice.number,
            "instalment": instalment.label,
            "amount": amount_text(instalment.remaining, invoice.currency, studio.locale),
        },
        job=invoice.job,
        contact=invoice.contact,
    )
    owners = studio_owner_emails(studio=studio)
    if owners:
        contact = invoice.contact
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        client = f"{name} ({to})" if name and to else name or to or "the client"
        subject, body = overdue_studio_email(
            facts_of(invoice, instalment, amount=attempt.amount, locale=studio.locale or "en"),
            client=client,
            attempts=attempt.number,
            code=code,
        )
        email_send_on_commit(subject=subject, body=body, to=owners)
    if to:
        subject, body = (
            autopay_action_email(facts, retry_on=None)
            if action
            else overdue_client_email(facts, code=code)
        )
        email_send_on_commit(subject=subject, body=body, to=[to])
    logger.warning(
        "instalment %s of invoice %s overdue: autopay gave up", instalment.id, invoice.id
    )


# --- the invoice payments' hooks (registered in billing.registry) ----------------------------
def _attempt_id_of(payment: Payment) -> uuid.UUID | None:
    key = payment.idempotency_key or ""
    if payment.purpose != Payment.Purpose.INVOICE or not key.startswith(KEY_PREFIX):
        return None
    try:
        return uuid.UUID(key.removeprefix(KEY_PREFIX))
    except ValueError:
        return None


def autopay_payment_booked(invoice: Invoice, payment: Payment) -> None:
    """``INVOICE_PAYMENT_HOOKS``, inside the success's transaction (the invoice locked): an
    autopay attempt's payment marks it succeeded; a payment that saved the card turns autopay
    on for what is left, once committed (the card is recorded after the success's commit)."""
    attempt_id = _attempt_id_of(payment)
    if attempt_id is not None:
        now = timezone.now()
        AutopayAttempt.objects.filter(
            pk=attempt_id, state__in=(State.CLAIMED, State.REQUIRES_ACTION, State.FAILED)
        ).update(
            state=State.SUCCEEDED,
            payment=payment,
            error_code="",
            finished_at=now,
            claim_token=None,
            updated_at=now,
        )
    elif payment.save_card:
        payment_id = payment.id
        transaction.on_commit(lambda: invoice_autopay_from_payment_soon(payment_id))


def autopay_payment_closed(payment: Payment) -> None:
    """``INVOICE_PAYMENT_CLOSED_HOOKS``, after an invoice payment failed or was canceled: an
    autopay attempt's (reported later than its charge: a webhook, the sweeper) is applied."""
    attempt_id = _attempt_id_of(payment)
    if attempt_id is None or attempt_id == _CHARGING.get():
        return
    autopay_attempt_apply(attempt_id=attempt_id, payment=payment)
