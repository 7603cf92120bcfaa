"""Webhook signatures as Stripe makes them (https://docs.stripe.com/webhooks#verify-manually).

``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint's
secret>``. Written from the documented scheme, not with the SDK, so the provider's verification
(the SDK's) is checked against an independent signer.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    signed_at = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256)
    return f"t={signed_at},v1={mac.hexdigest()}"
