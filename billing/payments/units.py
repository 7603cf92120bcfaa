"""Our minor units <-> Stripe's amount units. Pure (no Django).

Our amounts use the currency's ISO/CLDR exponent (Babel's data, as ``billing.money``). Stripe
has its own: zero-decimal for a fixed list, three decimals for five dinar-like currencies, two
for every other currency, including some ISO counts as zero-decimal (ISK, HUF, IDR, COP...:
1000 Ft is ``1000`` to us and ``100000`` to Stripe). Amounts cross here and nowhere else.
"""

from __future__ import annotations

from babel.numbers import get_currency_precision

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def our_exponent(currency: str) -> int:
    return int(get_currency_precision(currency.upper()))


def to_stripe(amount: int, currency: str) -> int:
    """Our minor units -> Stripe's; exact (a currency Stripe counts with fewer decimals than
    we do must not lose any: that is a ValueError)."""
    _check_int(amount)
    shift = stripe_exponent(currency) - our_exponent(currency)
    if shift >= 0:
        return amount * 10**shift
    quotient, remainder = divmod(amount, 10**-shift)
    if remainder:
        raise ValueError(f"{amount} {currency} has decimals Stripe cannot charge.")
    return quotient


def from_stripe(amount: int, currency: str, *, exact: bool = True) -> int:
    """Stripe's units -> ours. Charges and refunds are exact (we made them); a fee Stripe
    computed in a currency we count with fewer decimals (HUF, ISK...) may not be: with
    ``exact=False`` it is rounded half up to our unit, else that is a ValueError."""
    _check_int(amount)
    shift = stripe_exponent(currency) - our_exponent(currency)
    if shift <= 0:
        return amount * 10**-shift
    unit = 10**shift
    quotient, remainder = divmod(amount, unit)
    if not remainder:
        return quotient
    if exact:
        raise ValueError(f"{amount} (Stripe's units of {currency}) is not a whole minor unit.")
    return quotient + (1 if 2 * remainder >= unit else 0)


def _check_int(amount: object) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"An amount is an int of minor units, not {type(amount).__name__}.")
