"""Connect: studios' accounts, onboarding links and their completion."""

from __future__ import annotations

import copy

from tests.fake_stripe.api.base import (
    COUNTRY_CURRENCY,
    EUROZONE,
    Context,
    Store,
    StripeApiError,
    allowed,
    missing,
    new_id,
    no_such,
    now,
    param_enum,
    param_metadata,
    param_str,
)


class Connect(Store):
    """Connected accounts (made by the platform), onboarding links and their completion."""

    def account_create(self, params: dict, context: Context) -> dict:
        allowed(
            params,
            "type country email metadata capabilities business_type controller "
            "default_currency expand",
        )
        if context.account is not None:
            raise StripeApiError(
                400, "Connected accounts are created by the platform, without Stripe-Account."
            )
        kind = param_enum(params, "type", ("standard", "express", "custom")) or "standard"
        account = self.new_account(
            email=param_str(params, "email"),
            country=(param_str(params, "country") or "US").upper(),
            kind=kind,
            metadata=param_metadata(params),
        )
        return self._expanded(account, params, None)

    def new_account(
        self,
        *,
        email: str | None = None,
        country: str = "US",
        kind: str = "standard",
        metadata: dict | None = None,
        onboarded: bool = False,
    ) -> dict:
        with self.lock:
            currency = COUNTRY_CURRENCY.get(country) or ("eur" if country in EUROZONE else "usd")
            account = {
                "id": new_id("acct_", 16),
                "object": "account",
                "business_type": None,
                "capabilities": {},
                "charges_enabled": False,
                "country": country,
                "created": now(),
                "default_currency": currency,
                "details_submitted": False,
                "email": email,
                "metadata": metadata or {},
                "payouts_enabled": False,
                "requirements": {
                    "currently_due": ["business_profile.url", "external_account"],
                    "disabled_reason": "requirements.past_due",
                    "eventually_due": ["business_profile.url", "external_account"],
                    "past_due": ["business_profile.url", "external_account"],
                },
                "type": kind,
            }
            self._store(account, None)
            if onboarded:  # set up that way: no event
                self._onboard(account)
            return copy.deepcopy(account)

    def account_get(self, params: dict, context: Context, id: str) -> dict:
        allowed(params, "expand")
        account = self.objects.get(id)
        if account is None or account["object"] != "account" or context.account not in (None, id):
            raise no_such("account", id, "account")
        return self._expanded(account, params, None)

    def account_link_create(self, params: dict, context: Context) -> dict:
        allowed(params, "account refresh_url return_url type collect collection_options")
        account_id = param_str(params, "account")
        if account_id is None:
            raise missing("account")
        if param_enum(params, "type", ("account_onboarding", "account_update")) is None:
            raise missing("type")
        account = self.objects.get(account_id)
        if account is None or account["object"] != "account":
            raise no_such("account", account_id, "account")
        link = new_id("link_")
        created = now()
        self.notes[link] = {
            "account": account_id,
            "refresh_url": param_str(params, "refresh_url"),
            "return_url": param_str(params, "return_url"),
            "expires_at": created + 300,
        }
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": f"{self._url()}/fake/connect/onboarding/{link}",
        }

    def follow_link(self, link: str) -> str | None:
        """The owner opens an onboarding link: onboarded, sent to its return URL (an expired
        link sends them to its refresh URL)."""
        with self.lock:
            note = self.notes.get(link)
            if note is None:
                return None
            if now() > note["expires_at"]:
                return note["refresh_url"]
            self.complete_onboarding(note["account"])
            return note["return_url"]

    def complete_onboarding(self, account_id: str) -> dict:
        """The studio finished Stripe's onboarding (``account.updated``)."""
        with self.lock:
            account = self.objects[account_id]
            previous = {
                "charges_enabled": account["charges_enabled"],
                "details_submitted": account["details_submitted"],
                "payouts_enabled": account["payouts_enabled"],
            }
            self._onboard(account)
            self._event("account.updated", account, Context(account=account_id), previous)
            return copy.deepcopy(account)

    @staticmethod
    def _onboard(account: dict) -> None:
        account.update(
            charges_enabled=True,
            details_submitted=True,
            payouts_enabled=True,
            capabilities={"card_payments": "active", "transfers": "active"},
            requirements={
                "currently_due": [],
                "disabled_reason": None,
                "eventually_due": [],
                "past_due": [],
            },
        )
