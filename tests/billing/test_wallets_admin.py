"""Wallets, holds, gift cards and billing settings in the admin: staff look, nobody edits, and
a gift card's code (its hash, its sealed copy) is never on the page."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.test import Client, RequestFactory

from billing.models import BillingSettings, GiftCard, Wallet, WalletCreditLot, WalletHold
from billing.services import gift_cards as cards
from picpick.testing.factories import (
    BillingSettingsFactory,
    GiftCardFactory,
    UserFactory,
    WalletFactory,
    WalletHoldFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        (Wallet, WalletFactory),
        (WalletHold, WalletHoldFactory),
        (GiftCard, GiftCardFactory),
        (BillingSettings, BillingSettingsFactory),
    ],
)
def test_staff_may_look_but_not_add_change_or_delete(model, factory):
    row = factory()
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    model_admin = django_admin.site._registry[model]
    assert model_admin.has_view_permission(request, row)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    if model is Wallet:
        for inline in model_admin.get_inline_instances(request, row):
            assert inline.model in (WalletHold, WalletCreditLot)
            assert not inline.has_add_permission(request, row)
            assert not inline.has_change_permission(request, row)


def test_the_pages_render_and_never_show_a_code():
    issued = cards.gift_card_issue(
        studio=WalletFactory().studio, amount=5000, currency="EUR", idempotency_key="a"
    )
    card = GiftCard.objects.get(id=issued.card.id)
    wallet = Wallet.objects.first()
    hold = WalletHoldFactory(wallet=wallet)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        "/admin/billing/wallet/",
        f"/admin/billing/wallet/{wallet.id}/change/",
        "/admin/billing/wallethold/",
        f"/admin/billing/wallethold/{hold.id}/change/",
        "/admin/billing/giftcard/",
        f"/admin/billing/giftcard/{card.id}/change/",
        "/admin/billing/billingsettings/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert issued.code not in html and card.code_hash not in html
        assert card.code_sealed not in html
    page = client.get(f"/admin/billing/giftcard/{card.id}/change/").content.decode()
    assert card.code_last4 in page
