"""The wallet and gift card sweeps are on the beat, registered by a worker's imports, routed to
the billing queue, and each one calls its service (eager here)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from billing.models import GiftCard, WalletHold
from billing.services import gift_cards, wallets
from billing.tasks import gift_cards as gift_card_tasks
from billing.tasks import wallets as wallet_tasks
from picpick.celery import app
from tests.billing import test_wallets_support as support
from tests.billing.test_wallets_support import grant, key

SWEEPS = {
    "billing.tasks.wallets.wallet_holds_expire": 60,
    "billing.tasks.gift_cards.gift_card_deliveries_sweep": 60,
    "billing.tasks.wallets.wallet_credits_expire": 3600,
    "billing.tasks.wallets.wallet_expiry_reminders": 3600,
    "billing.tasks.gift_cards.gift_cards_expire_sweep": 3600,
}

_fresh_cache = support._fresh_cache
euro_studio = support.euro_studio
client_contact = support.client_contact
wallet = support.wallet


def test_the_sweeps_are_on_the_beat_and_a_worker_registers_them():
    app.loader.import_default_modules()  # what a worker and the beat do at start
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name, seconds in SWEEPS.items():
        assert entries[name]["schedule"].total_seconds() == seconds
        assert name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "billing"


@pytest.mark.django_db
def test_the_hold_sweep_task_releases_expired_holds(wallet):
    grant(wallet, 5000)
    hold = wallets.wallet_hold(
        wallet=wallet,
        amount=1000,
        reference="c",
        expires_at=timezone.now() + dt.timedelta(seconds=1),
        idempotency_key=key(),
    ).hold
    WalletHold.objects.filter(id=hold.id).update(expires_at=timezone.now() - dt.timedelta(1))
    assert wallet_tasks.wallet_holds_expire.delay().get() == 1
    assert wallet_tasks.wallet_credits_expire.delay().get() == 0
    assert wallet_tasks.wallet_expiry_reminders.delay().get() == 0


@pytest.mark.django_db
def test_the_gift_card_tasks_deliver_and_expire(euro_studio):
    card = gift_cards.gift_card_issue(
        studio=euro_studio,
        amount=1000,
        currency="EUR",
        idempotency_key=key(),
        recipient_email="rita@example.com",
    ).card
    assert gift_card_tasks.gift_card_deliver.delay(str(card.id)).get() is True
    assert gift_card_tasks.gift_card_deliver.delay(str(card.id)).get() is False
    assert gift_card_tasks.gift_card_deliveries_sweep.delay().get() == 0
    GiftCard.objects.filter(id=card.id).update(expires_at=timezone.now() - dt.timedelta(1))
    assert gift_card_tasks.gift_cards_expire_sweep.delay().get() == 1
