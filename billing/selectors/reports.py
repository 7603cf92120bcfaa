"""The invoicing reports, each one or two aggregate queries whatever the number of invoices.

- **Receivables aging**: what is still owed on open invoices, per currency, in buckets of days
  past due (current, 1-30, 31-60, 61-90, over 90), counted per *instalment* (each has its own
  due date: an invoice half paid on time and half late is both current and late). What an
  instalment still owes is its amount less its ``paid``, which the invoice's status sync
  derives from the ledger (the receivable's balance applied in due order) whenever anything
  is posted to it. ``as_of`` moves the day the days are counted to (and, in the past, leaves
  out invoices issued after it); the amounts are what is unpaid now.
- **Revenue**, by period and by catalogue item (a package, an item), from the ledger: the
  entries on revenue accounts of postings about invoices (an invoice issued, a credit note, a
  void's reversal, a late fee) and of the tips and late-fee accounts. Each catalogue item has
  its own revenue account (reference ``item-<id>``); lines without an item go to the plain
  revenue account ("other"). Credit notes and voids take revenue back in the period they
  are posted.
- **Payments and refunds**, by period, from the ledger: the entries on invoices' receivable
  accounts (reference ``inv-<id>``) by the kind of their transaction: paid by card
  (``payment_received``), from the wallet (``wallet_spend``), by gift card
  (``gift_card_redeemed``); refunded (``refund``, and a reversal of a payment or refund); paid
  beyond what was owed and moved to the client's wallet (``overpayment``); and the tips
  (the tips account, net of tips refunded). Not Payment or Refund rows: what counts is what
  was booked, including wallet and gift card money that has no card payment, and a refund the
  provider refused (reversed) counts for nothing.
- **Tax collected**, by period and per tax and rate, from the entries on tax payable accounts
  (reference ``<name>-<rate>``, e.g. ``VAT-20``): collected (credits, when invoices are issued)
  and given back (debits: credit notes, voids).

Periods are months, quarters or years of the studio's calendar (its time zone): each is a
``CASE`` on ``posted_at`` in the one query, so the boundaries are exact on any database
(no time zone tables needed) and the query count does not grow with the range.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from accounts.models import Studio
from billing.models import CatalogueItem, Instalment, Invoice, LedgerAccount, LedgerEntry
from billing.models import LedgerTransaction as Txn
from picpick.core.errors import ApplicationError

INTERVALS = ("month", "quarter", "year")
MAX_PERIODS = 120
UNPAID = (
    Instalment.State.PENDING,
    Instalment.State.PARTIALLY_PAID,
    Instalment.State.OVERDUE,
)
OWING = (Invoice.Status.OPEN, Invoice.Status.PARTIALLY_PAID)
AGING_BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")
# Revenue accounts that only invoices feed (their entries count whatever the posting's source).
INVOICE_REVENUE_REFERENCES = ("tips", "late-fees")


def _zone(studio: Studio) -> dt.tzinfo:
    try:
        return ZoneInfo(getattr(studio, "timezone", "") or "UTC")
    except Exception:
        return dt.UTC


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str  # "2026-05", "2026-Q2", "2026"
    start: dt.date  # the first day counted (the range's first day for the first period)
    end: dt.date  # the last day counted


def _next_start(day: dt.date, interval: str) -> dt.date:
    if interval == "year":
        return dt.date(day.year + 1, 1, 1)
    months = 3 if interval == "quarter" else 1
    first_month = day.month - (day.month - 1) % months
    month = first_month + months
    return dt.date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _label(day: dt.date, interval: str) -> str:
    if interval == "year":
        return str(day.year)
    if interval == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def periods_of(*, start: dt.date, end: dt.date, interval: str) -> list[Period]:
    """The periods from ``start`` to ``end`` (both included); 400 ``period_invalid`` when the
    range is backwards or longer than ``MAX_PERIODS`` periods."""
    if interval not in INTERVALS:
        raise ApplicationError(
            f"interval is one of {', '.join(INTERVALS)}.",
            code="period_invalid",
            fields={"interval": ["month, quarter or year."]},
        )
    if end < start:
        raise ApplicationError(
            "The range ends before it starts.",
            code="period_invalid",
            fields={"to": ["Before from."]},
        )
    periods = []
    day = start
    while day <= end:
        following = _next_start(day, interval)
        periods.append(Period(_label(day, interval), day, min(end, following - dt.timedelta(1))))
        day = following
        if len(periods) > MAX_PERIODS:
            raise ApplicationError(
                f"At most {MAX_PERIODS} periods at a time: a shorter range or a longer interval.",
                code="period_invalid",
                fields={"from": ["Too long a range."]},
            )
    return periods


def _bounds(studio: Studio, periods: list[Period]) -> tuple[dt.datetime, dt.datetime, Case]:
    """The range as aware datetimes (the studio's midnights) and the CASE giving each posting's
    period number."""
    zone = _zone(studio)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone)

    ends = [midnight(p.end + dt.timedelta(days=1)) for p in periods]
    bucket = Case(
        *[When(transaction__posted_at__lt=end, then=Value(i)) for i, end in enumerate(ends)],
        default=Value(len(periods) - 1),
        output_field=IntegerField(),
    )
    return midnight(periods[0].start), ends[-1], bucket


def _credits() -> Coalesce:
    return Coalesce(Sum(Case(When(amount__lt=0, then=-F("amount")), default=Value(0))), 0)


def _debits() -> Coalesce:
    return Coalesce(Sum(Case(When(amount__gt=0, then=F("amount")), default=Value(0))), 0)


# --- receivables aging ------------------------------------------------------------------------


@dataclass
class AgingRow:
    currency: str
    current: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    days_over_90: int = 0
    total: int = 0
    invoices: int = 0
    instalments: int = 0


def receivables_aging(*, studio: Studio, as_of: dt.date, today: dt.date) -> list[AgingRow]:
    """What open invoices still owe, per currency (by code), in buckets of days past due.

    Two queries: whether the studio's invoices are in one currency (the lowest and highest
    currency of its receivable accounts, read from the two ends of an index), then the sums.
    An unpaid instalment (pending, partly paid, overdue) belongs to an open or partly paid
    invoice: a paid invoice's instalments are all paid and a void or written-off one's are
    canceled (the status sync keeps them so). So for a studio invoicing in one currency,
    counted to today or later, the sums read the instalments alone; otherwise each instalment
    is joined to its invoice for the currency (and, for a day in the past, to leave out
    invoices issued after it).
    """
    # The lowest and highest code: both read from the ends of an index, however many invoices.
    currencies = LedgerAccount.objects.filter(
        studio=studio, kind=LedgerAccount.Kind.RECEIVABLE
    ).aggregate(low=Min("currency"), high=Max("currency"))
    left = F("amount") - F("paid")

    def owed(condition: Q) -> Coalesce:
        return Coalesce(Sum(Case(When(condition, then=left), default=Value(0))), 0)

    days = [as_of - dt.timedelta(days=n) for n in (30, 60, 90)]
    sums = {
        "current": owed(Q(due_date__gte=as_of)),
        "days_1_30": owed(Q(due_date__lt=as_of, due_date__gte=days[0])),
        "days_31_60": owed(Q(due_date__lt=days[0], due_date__gte=days[1])),
        "days_61_90": owed(Q(due_date__lt=days[1], due_date__gte=days[2])),
        "days_over_90": owed(Q(due_date__lt=days[2])),
        "total": Coalesce(Sum(left), 0),
        "invoices": Count("invoice_id", distinct=True),
        "instalments": Count("id"),
    }
    unpaid = Instalment.objects.filter(studio=studio, state__in=UNPAID)
    if currencies["low"] is not None and currencies["low"] == currencies["high"] and as_of >= today:
        rows = [{"currency": currencies["low"], **unpaid.aggregate(**sums)}]
    else:
        rows = (
            unpaid.filter(invoice__status__in=OWING, invoice__issue_date__lte=as_of)
            .values(currency=F("invoice__currency"))
            .annotate(**sums)
            .order_by("currency")
        )
    return [AgingRow(**row) for row in rows if row["total"]]


# --- revenue ----------------------------------------------------------------------------------


@dataclass
class RevenueRow:
    period: str
    currency: str
    source: str  # "item", "other", "tips", "late_fees"
    catalogue_item_id: uuid.UUID | None
    name: str
    kind: str  # the catalogue item's (package, item), else ""
    revenue: int


@dataclass
class Report:
    periods: list[Period]
    rows: list = field(default_factory=list)
    # Revenue: per period and currency, and per catalogue item over the range; tax: per tax.
    by_period: list = field(default_factory=list)
    by_item: list = field(default_factory=list)
    by_tax: list = field(default_factory=list)


@dataclass
class RevenueTotal:
    currency: str
    revenue: int
    period: str = ""
    source: str = ""
    catalogue_item_id: uuid.UUID | None = None
    name: str = ""
    kind: str = ""


def _item_id(reference: str) -> uuid.UUID | None:
    if not reference.startswith("item-"):
        return None
    try:
        return uuid.UUID(hex=reference.removeprefix("item-"))
    except ValueError:
        return None


_SOURCES = {"": ("other", "Other (lines without a catalogue item)"), "tips": ("tips", "Tips")}
_SOURCES["late-fees"] = ("late_fees", "Late fees")


def revenue_report(*, studio: Studio, periods: list[Period]) -> Report:
    """Revenue of invoices by period, currency and catalogue item (see the module); two
    queries (the sums, then the names of the catalogue items they name)."""
    start, end, bucket = _bounds(studio, periods)
    sums = (
        LedgerEntry.objects.filter(
            account__studio=studio,
            account__kind=LedgerAccount.Kind.REVENUE,
            transaction__posted_at__gte=start,
            transaction__posted_at__lt=end,
        )
        .filter(
            Q(transaction__source_type="invoice")
            | Q(account__reference__in=INVOICE_REVENUE_REFERENCES)
        )
        .annotate(bucket=bucket)
        .values("bucket", "currency", "account__reference")
        .annotate(amount=Sum("amount"))
        .order_by("bucket", "currency", "account__reference")
    )
    sums = [row for row in sums if row["amount"]]
    ids = {_item_id(row["account__reference"]) for row in sums} - {None}
    items = {
        item_id: (name, kind)
        for item_id, name, kind in CatalogueItem.objects.filter(
            studio=studio, id__in=ids
        ).values_list("id", "name", "kind")
    }
    rows = []
    for row in sums:
        reference = row["account__reference"]
        item_id = _item_id(reference)
        if item_id is not None:
            name, kind = items.get(item_id, (f"Catalogue item {item_id}", ""))
            source = "item"
        else:
            source, name = _SOURCES.get(reference, ("other", reference))
            kind = ""
        rows.append(
            RevenueRow(
                period=periods[row["bucket"]].label,
                currency=row["currency"],
                source=source,
                catalogue_item_id=item_id,
                name=name,
                kind=kind,
                revenue=-row["amount"],  # revenue is credit-normal
            )
        )
    by_period: dict[tuple, RevenueTotal] = {}
    by_item: dict[tuple, RevenueTotal] = {}
    for row in rows:
        key = (row.period, row.currency)
        total = by_period.setdefault(key, RevenueTotal(currency=row.currency, revenue=0))
        total.period = row.period
        total.revenue += row.revenue
        key = (row.currency, row.source, row.catalogue_item_id)
        total = by_item.setdefault(
            key,
            RevenueTotal(
                currency=row.currency,
                revenue=0,
                source=row.source,
                catalogue_item_id=row.catalogue_item_id,
                name=row.name,
                kind=row.kind,
            ),
        )
        total.revenue += row.revenue
    return Report(
        periods=periods,
        rows=rows,
        by_period=list(by_period.values()),
        by_item=sorted(by_item.values(), key=lambda t: (t.currency, -t.revenue, t.name)),
    )


# --- payments and refunds ---------------------------------------------------------------------


@dataclass
class PaymentsRow:
    period: str
    currency: str
    card: int = 0
    wallet: int = 0
    gift_card: int = 0
    refunded: int = 0
    to_wallet: int = 0
    tips: int = 0

    @property
    def received(self) -> int:
        return self.card + self.wallet + self.gift_card

    @property
    def net(self) -> int:
        """What stayed paid on invoices: received, less refunds and overpayments moved on."""
        return self.received - self.refunded - self.to_wallet


_PAID_BY = {
    Txn.Kind.PAYMENT_RECEIVED: "card",
    Txn.Kind.WALLET_SPEND: "wallet",
    Txn.Kind.GIFT_CARD_REDEEMED: "gift_card",
}


def payments_report(*, studio: Studio, periods: list[Period]) -> Report:
    """Invoice payments by method, refunds and tips, by period and currency (see the
    module). One query."""
    start, end, bucket = _bounds(studio, periods)
    receivables = Q(
        account__kind=LedgerAccount.Kind.RECEIVABLE,
        account__reference__startswith="inv-",
    ) & (
        Q(
            transaction__kind__in=[
                *_PAID_BY,
                Txn.Kind.REFUND,
                Txn.Kind.OVERPAYMENT,
            ]
        )
        | (Q(transaction__kind=Txn.Kind.REVERSAL) & ~Q(transaction__source_type="invoice"))
    )
    tips = Q(account__kind=LedgerAccount.Kind.REVENUE, account__reference="tips")
    sums = (
        LedgerEntry.objects.filter(
            account__studio=studio,
            transaction__posted_at__gte=start,
            transaction__posted_at__lt=end,
        )
        .filter(receivables | tips)
        .annotate(bucket=bucket)
        .values("bucket", "currency", "account__kind", "transaction__kind")
        .annotate(credits=_credits(), debits=_debits())
        .order_by("bucket", "currency")
    )
    rows: dict[tuple[int, str], PaymentsRow] = {}
    for row in sums:
        key = (row["bucket"], row["currency"])
        out = rows.get(key)
        if out is None:
            out = rows[key] = PaymentsRow(period=periods[key[0]].label, currency=key[1])
        kind, credits, debits = row["transaction__kind"], row["credits"], row["debits"]
        if row["account__kind"] == LedgerAccount.Kind.REVENUE:
            out.tips += credits - debits
        elif kind in _PAID_BY:
            setattr(out, _PAID_BY[kind], getattr(out, _PAID_BY[kind]) + credits - debits)
        elif kind == Txn.Kind.OVERPAYMENT:
            out.to_wallet += debits - credits
        else:  # a refund, or a reversal of a payment (a debit) or of a refund (a credit)
            out.refunded += debits - credits
    return Report(periods=periods, rows=[rows[key] for key in sorted(rows)])


# --- tax --------------------------------------------------------------------------------------


@dataclass
class TaxRow:
    period: str
    currency: str
    tax: str  # the account's reference: "VAT-20"
    name: str  # "VAT"
    rate: str  # "20"
    collected: int
    given_back: int

    @property
    def net(self) -> int:
        return self.collected - self.given_back


def tax_report(*, studio: Studio, periods: list[Period]) -> Report:
    """Tax collected per tax and rate, by period and currency (see the module). One query."""
    start, end, bucket = _bounds(studio, periods)
    sums = (
        LedgerEntry.objects.filter(
            account__studio=studio,
            account__kind=LedgerAccount.Kind.TAX_PAYABLE,
            transaction__posted_at__gte=start,
            transaction__posted_at__lt=end,
        )
        .annotate(bucket=bucket)
        .values("bucket", "currency", "account__reference", "account__name")
        .annotate(credits=_credits(), debits=_debits())
        .order_by("bucket", "currency", "account__reference")
    )
    rows = []
    for row in sums:
        reference = row["account__reference"]
        rate = reference.rsplit("-", 1)[-1] if "-" in reference else ""
        name = row["account__name"].removesuffix(f" {rate}% payable") if rate else reference
        rows.append(
            TaxRow(
                period=periods[row["bucket"]].label,
                currency=row["currency"],
                tax=reference,
                name=name,
                rate=rate,
                collected=row["credits"],
                given_back=row["debits"],
            )
        )
    by_tax: dict[tuple, TaxRow] = {}
    for row in rows:
        total = by_tax.setdefault(
            (row.currency, row.tax),
            TaxRow("", row.currency, row.tax, row.name, row.rate, collected=0, given_back=0),
        )
        total.collected += row.collected
        total.given_back += row.given_back
    return Report(periods=periods, rows=rows, by_tax=[by_tax[k] for k in sorted(by_tax)])
