"""Whether a ``SECRET_KEY`` is fit for production (pure: no Django settings, no I/O).

The key signs access tokens, guest tokens, local-storage URLs and password-reset links; with it
anyone can forge them. Production refuses, at start:

- the keys committed to this repository (development, tests, the image build), whatever else
  they look like: they are public;
- Django's own ``check --deploy`` rules: a ``django-insecure-`` key (what ``startproject``
  writes), fewer than 50 characters or fewer than 5 distinct ones;
- keys a person typed rather than a generator made: fewer than 20 distinct characters, one
  character making up much of the key, one short pattern repeated, mostly runs (``aaaa``,
  ``abcd``, ``4321``).

A hex key (``secrets.token_hex(32)``, ``openssl rand -hex 32``) has only 16 symbols, so it is
judged as hex: 4 bits a character, 64 characters (256 bits) needed instead of 20 distinct ones.
The thresholds leave a wide margin under what generated keys show: 20,000 keys each of
Django's generator, ``token_urlsafe`` and ``token_hex`` gave at least 23 distinct characters
(13 for hex), 4.3 bits a character by letter frequency (3.48 for hex) and at most 40% of
neighbours a run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise

# The defaults of settings/local.py and settings/test.py, and the throwaway key the image build
# runs collectstatic with: anyone can read them, so they sign nothing in production.
LOCAL_SECRET_KEY = "local-development-only-not-secret-0123456789abcdef"  # noqa: S105
TEST_SECRET_KEY = "test-only-not-secret-0123456789abcdef-0123456789"  # noqa: S105
BUILD_SECRET_KEY = "collectstatic-only-never-used-to-sign-anything-0123456789"  # noqa: S105
COMMITTED_SECRET_KEYS = frozenset({LOCAL_SECRET_KEY, TEST_SECRET_KEY, BUILD_SECRET_KEY})

MIN_LENGTH = 50
MIN_HEX_LENGTH = 64
MIN_DISTINCT = 20
MIN_BITS_PER_CHARACTER = 3.5
MIN_HEX_BITS_PER_CHARACTER = 3.0
MAX_RUN_SHARE = 0.6
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"

_HEX = re.compile(r"[0-9a-fA-F]+")


def _bits_per_character(key: str) -> float:
    """Shannon entropy of the key's letter frequencies: low when a few characters dominate."""
    counts = Counter(key)
    return -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())


def _repeats_a_pattern(key: str) -> bool:
    """True when the key is a shorter pattern repeated, the last copy perhaps cut short
    ("abcabcab", "changeme-changeme-chan"): at least one and a half copies."""
    return any(key[period:] == key[:-period] for period in range(1, 2 * len(key) // 3 + 1))


def _run_share(key: str) -> float:
    """The share of neighbouring characters that are equal or consecutive ("aa", "ab", "ba")."""
    pairs = list(pairwise(key))
    return sum(abs(ord(a) - ord(b)) <= 1 for a, b in pairs) / len(pairs) if pairs else 1.0


def secret_key_problem(key: str) -> str | None:
    """What makes ``key`` unfit to sign anything in production, or None when it looks generated."""
    if key in COMMITTED_SECRET_KEYS:
        return "is a development key committed to the repository"
    if key.startswith("django-insecure-"):
        return "is a django-insecure- key (Django's startproject default)"
    hex_key = _HEX.fullmatch(key) is not None
    if len(key) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if hex_key and len(key) < MIN_HEX_LENGTH:
        return f"must be at least {MIN_HEX_LENGTH} characters when it is hex"
    if _repeats_a_pattern(key):
        return "repeats one short pattern"
    if not hex_key and len(set(key)) < MIN_DISTINCT:
        return f"has fewer than {MIN_DISTINCT} distinct characters"
    minimum = MIN_HEX_BITS_PER_CHARACTER if hex_key else MIN_BITS_PER_CHARACTER
    if _bits_per_character(key) < minimum:
        return "is mostly a few characters"
    if _run_share(key) > MAX_RUN_SHARE:
        return "is mostly runs of repeated or consecutive characters"
    return None
