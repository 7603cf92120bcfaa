"""factory_boy factories, one for every model of the project's apps.

Each builds a row the database and ``full_clean`` accept on its own: unique fields come from
sequences, and a row that names a studio twice (directly and through its gallery, photo,
batch, face or list) names the same one, taken from the row it hangs off. Counters the services
keep (``Gallery.photo_count``, ``StudioUsage``) are not kept here: a test that needs them goes
through the services.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from decimal import Decimal

import factory
import numpy as np
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, Studio, StudioUsage, User
from billing.models import (
    AutopayAttempt,
    BillingSettings,
    CatalogueItem,
    ConnectedAccount,
    Dispute,
    DocumentCounter,
    GiftCard,
    Instalment,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    LedgerAccount,
    LedgerCheckRun,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    ProviderCustomer,
    Quote,
    QuoteItem,
    Refund,
    SavedCard,
    TaxRate,
    Wallet,
    WalletCreditLot,
    WalletHold,
    WebhookEvent,
)
from crm.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomFieldDefinition,
    EmailMessage,
    EmailTemplate,
    ImportJob,
    Inquiry,
    InquiryForm,
    Job,
    JobContact,
    JobGallery,
    Pipeline,
    Stage,
    StageChange,
    Task,
    TimelineEvent,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    WorkflowStepRun,
)
from crm.models import Tag as CrmTag
from domains.models import Domain
from faces.embedding import to_bytes
from faces.models import (
    Face,
    FaceDataDeletion,
    FaceRejection,
    GalleryFaceIndex,
    HideRequest,
    Person,
    PhotoFaceScan,
)
from faces.pipeline import FACE_STEP_VERSION
from galleries import keys
from galleries.models import (
    Album,
    DownloadJob,
    Gallery,
    Photo,
    Tag,
    Upload,
    UploadBatch,
    Watermark,
)
from guests.models import Favourite, FavouriteList, Visitor
from picpick.core.ids import uuid7


def _in(**delta):
    return factory.LazyFunction(lambda: timezone.now() + timedelta(**delta))


# --- accounts ---------------------------------------------------------------------------------


class StudioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Studio

    name = factory.Sequence(lambda n: f"Studio {n}")
    slug = factory.Sequence(lambda n: f"studio-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    studio = factory.SubFactory(StudioFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation; ``token`` is the raw token its link carries (only its hash is kept)."""

    class Meta:
        model = Invitation

    class Params:
        token = factory.Sequence(lambda n: f"invitation-token-{n}")
        inviter = factory.SubFactory(
            MembershipFactory, studio=factory.SelfAttribute("..studio"), role=Role.ADMIN
        )

    studio = factory.SubFactory(StudioFactory)
    invited_by = factory.SelfAttribute("inviter.user")
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.PHOTOGRAPHER
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    expires_at = _in(days=7)


# --- galleries --------------------------------------------------------------------------------


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class GalleryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gallery

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Gallery {n}")
    slug = factory.Sequence(lambda n: f"gallery-{n}")


class AlbumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Album

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    name = factory.Sequence(lambda n: f"Album {n}")


class PhotoFactory(factory.django.DjangoModelFactory):
    """A processed photo by default; ``pending=True``: a placeholder waiting for its upload,
    with the original's key and checksum the upload start gives it."""

    class Meta:
        model = Photo

    class Params:
        pending = factory.Trait(
            state=Photo.State.PENDING,
            checksum=factory.Sequence(
                lambda n: base64.b64encode(hashlib.sha256(f"photo {n}".encode()).digest()).decode()
            ),
            original_key=factory.LazyAttribute(
                lambda o: keys.original_key(o.gallery.studio_id, o.gallery.id, o.id, o.filename)
            ),
        )

    # Known before the row is saved, so the object keys that name it can be made.
    id = factory.LazyFunction(uuid7)
    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    filename = factory.Sequence(lambda n: f"IMG_{n:05d}.jpg")
    size = 1_000_000
    content_type = "image/jpeg"
    state = Photo.State.READY
    position = factory.Sequence(lambda n: n)


class StudioUsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StudioUsage
        django_get_or_create = ("studio",)  # one row per studio

    studio = factory.SubFactory(StudioFactory)


class WatermarkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Watermark

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Watermark {n}")
    text = "© Studio"


class UploadBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UploadBatch

    class Params:
        uploader = factory.SubFactory(
            MembershipFactory, studio=factory.SelfAttribute("..studio"), role=Role.PHOTOGRAPHER
        )

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    created_by = factory.SelfAttribute("uploader.user")
    declared_count = 1
    declared_bytes = 1_000_000


class UploadFactory(factory.django.DjangoModelFactory):
    """A single-PUT upload waiting for its bytes, with its pending placeholder photo."""

    class Meta:
        model = Upload

    batch = factory.SubFactory(UploadBatchFactory)
    gallery = factory.SelfAttribute("batch.gallery")
    studio = factory.SelfAttribute("batch.studio")
    photo = factory.SubFactory(
        PhotoFactory, gallery=factory.SelfAttribute("..gallery"), pending=True
    )
    filename = factory.SelfAttribute("photo.filename")
    key = factory.SelfAttribute("photo.original_key")
    size = factory.SelfAttribute("photo.size")
    content_type = factory.SelfAttribute("photo.content_type")
    checksum_sha256 = factory.SelfAttribute("photo.checksum")
    expires_at = _in(hours=24)


class DownloadJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DownloadJob

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")


# --- faces ------------------------------------------------------------------------------------


class GalleryFaceIndexFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GalleryFaceIndex
        django_get_or_create = ("gallery",)  # one row per gallery

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")


class PhotoFaceScanFactory(factory.django.DjangoModelFactory):
    """The face step at its current version stored the photo's faces."""

    class Meta:
        model = PhotoFaceScan

    photo = factory.SubFactory(PhotoFactory)
    gallery = factory.SelfAttribute("photo.gallery")
    studio = factory.SelfAttribute("photo.studio")
    version = FACE_STEP_VERSION
    scanned_at = factory.LazyFunction(timezone.now)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")


def _embedding(seed: int) -> bytes:
    vector = np.random.default_rng(seed).normal(size=128)
    return to_bytes(vector / np.linalg.norm(vector))


class FaceFactory(factory.django.DjangoModelFactory):
    """An ungrouped face with its own random unit embedding (``seed`` picks it)."""

    class Meta:
        model = Face

    class Params:
        seed = factory.Sequence(lambda n: n)

    photo = factory.SubFactory(PhotoFactory)
    gallery = factory.SelfAttribute("photo.gallery")
    studio = factory.SelfAttribute("photo.studio")
    left = 100
    top = 100
    right = 200
    bottom = 220
    size = factory.LazyAttribute(lambda o: o.bottom - o.top)
    embedding = factory.LazyAttribute(lambda o: _embedding(o.seed))
    score = 1.0
    sharpness = 10.0


class FaceRejectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaceRejection

    face = factory.SubFactory(FaceFactory)
    person = factory.SubFactory(PersonFactory, gallery=factory.SelfAttribute("..face.gallery"))
    studio = factory.SelfAttribute("face.studio")


class HideRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HideRequest

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")


class FaceDataDeletionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaceDataDeletion

    studio = factory.SubFactory(StudioFactory)
    gallery_id_ref = factory.LazyFunction(uuid7)
    reason = FaceDataDeletion.Reason.PHOTO_DELETED
    photo_id_ref = factory.LazyFunction(uuid7)


# --- domains ----------------------------------------------------------------------------------


class DomainFactory(factory.django.DjangoModelFactory):
    """A pending custom domain; the columns the unique indexes read (``held_hostname``,
    ``primary_of``) follow ``state`` and ``is_primary`` as the check constraints demand."""

    class Meta:
        model = Domain

    studio = factory.SubFactory(StudioFactory)
    hostname = factory.Sequence(lambda n: f"photos{n}.example.com")
    kind = Domain.Kind.SUBDOMAIN
    state = Domain.State.PENDING
    challenge_token = factory.Sequence(lambda n: f"{n:032x}")
    is_primary = False
    held_hostname = factory.LazyAttribute(lambda o: o.hostname if o.state in Domain.HELD else None)
    primary_of = factory.LazyAttribute(lambda o: o.studio.id if o.is_primary else None)
    verify_started_at = factory.LazyFunction(timezone.now)
    verified_at = factory.LazyAttribute(
        lambda o: (
            o.verify_started_at if o.state in (Domain.State.VERIFIED, Domain.State.ACTIVE) else None
        )
    )
    activated_at = factory.LazyAttribute(
        lambda o: o.verify_started_at if o.state == Domain.State.ACTIVE else None
    )


# --- guests -----------------------------------------------------------------------------------


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    gallery = factory.SubFactory(GalleryFactory)
    studio = factory.SelfAttribute("gallery.studio")
    email = factory.Sequence(lambda n: f"visitor{n}@example.com")
    last_seen_at = factory.LazyFunction(timezone.now)


class FavouriteListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FavouriteList

    visitor = factory.SubFactory(VisitorFactory)
    gallery = factory.SelfAttribute("visitor.gallery")
    studio = factory.SelfAttribute("visitor.studio")


class FavouriteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Favourite

    favourite_list = factory.SubFactory(FavouriteListFactory)
    studio = factory.SelfAttribute("favourite_list.studio")
    photo = factory.SubFactory(
        PhotoFactory, gallery=factory.SelfAttribute("..favourite_list.gallery")
    )


# --- CRM ---------------------------------------------------------------------------------------
class CustomFieldDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldDefinition

    studio = factory.SubFactory(StudioFactory)
    applies_to = CustomFieldDefinition.AppliesTo.CONTACT
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"Field {n}")
    kind = CustomFieldDefinition.Kind.TEXT


class CrmTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrmTag

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    studio = factory.SubFactory(StudioFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"client{n}@example.com")


class ContactEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactEmail

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    email = factory.Sequence(lambda n: f"other{n}@example.com")


class ContactPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPhone

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    number = factory.Sequence(lambda n: f"+4420794600{n % 100:02d}")


class ContactTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactTag

    contact = factory.SubFactory(ContactFactory)
    tag = factory.SubFactory(CrmTagFactory, studio=factory.SelfAttribute("..contact.studio"))


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportJob

    studio = factory.SubFactory(StudioFactory)
    filename = "contacts.csv"
    file_key = factory.Sequence(lambda n: f"studios/imports/{n}.csv")
    file_sha256 = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Pipeline {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    pipeline = factory.SubFactory(PipelineFactory)
    studio = factory.SelfAttribute("pipeline.studio")
    name = factory.Sequence(lambda n: f"Stage {n}")
    position = factory.Sequence(lambda n: n)


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    stage = factory.SubFactory(StageFactory)
    pipeline = factory.SelfAttribute("stage.pipeline")
    studio = factory.SelfAttribute("stage.studio")
    name = factory.Sequence(lambda n: f"Job {n}")
    stage_entered_at = factory.LazyFunction(timezone.now)
    currency = "USD"


class JobContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobContact

    job = factory.SubFactory(JobFactory)
    studio = factory.SelfAttribute("job.studio")
    contact = factory.SubFactory(ContactFactory, studio=factory.SelfAttribute("..job.studio"))


class JobGalleryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobGallery

    job = factory.SubFactory(JobFactory)
    studio = factory.SelfAttribute("job.studio")
    gallery = factory.SubFactory(GalleryFactory, studio=factory.SelfAttribute("..job.studio"))


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    job = factory.SubFactory(JobFactory)
    studio = factory.SelfAttribute("job.studio")
    to_stage = factory.SelfAttribute("job.stage")


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hello {{ client.first_name }}"
    body = "Hi {{ client.first_name }},\n\nSee you on {{ job.event_date }}.\n"


class InquiryFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InquiryForm

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Form {n}")
    slug = factory.Sequence(lambda n: f"form-{n}")


class InquiryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inquiry

    form = factory.SubFactory(InquiryFormFactory)
    studio = factory.SelfAttribute("form.studio")
    contact = factory.SubFactory(ContactFactory, studio=factory.SelfAttribute("..form.studio"))
    answers = factory.LazyFunction(lambda: {"message": "We are getting married!"})


class EmailMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailMessage

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    to = factory.SelfAttribute("contact.email")
    subject = "Hello"
    body = "Hi there."


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    job = factory.SubFactory(JobFactory)
    studio = factory.SelfAttribute("job.studio")
    title = factory.Sequence(lambda n: f"Task {n}")


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Workflow {n}")


class WorkflowStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowStep

    workflow = factory.SubFactory(WorkflowFactory)
    studio = factory.SelfAttribute("workflow.studio")
    trigger = WorkflowStep.Trigger.EVENT_OFFSET
    offset_days = -7
    action = WorkflowStep.Action.CREATE_TASK
    task_title = "Send the timeline questionnaire"


class WorkflowRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowRun

    workflow = factory.SubFactory(WorkflowFactory)
    studio = factory.SelfAttribute("workflow.studio")
    job = factory.SubFactory(
        JobFactory, stage__pipeline__studio=factory.SelfAttribute("....workflow.studio")
    )


class WorkflowStepRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowStepRun

    run = factory.SubFactory(WorkflowRunFactory)
    studio = factory.SelfAttribute("run.studio")
    job = factory.SelfAttribute("run.job")
    step = factory.SubFactory(WorkflowStepFactory, workflow=factory.SelfAttribute("..run.workflow"))
    due_at = factory.LazyFunction(timezone.now)


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    kind = "note"
    payload = factory.LazyFunction(lambda: {"text": "Called; they want a second shooter."})
    occurred_at = factory.LazyFunction(timezone.now)


# --- billing: the ledger -----------------------------------------------------------------------
# Rows as the ledger service writes them; a test that needs balances to add up posts through
# ``billing.services.ledger`` (an entry built here alone is one side of a transaction).
class LedgerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerAccount

    studio = factory.SubFactory(StudioFactory)
    kind = LedgerAccount.Kind.REVENUE
    currency = "EUR"
    key = factory.Sequence(lambda n: f"revenue:ref-{n}:EUR")
    name = factory.Sequence(lambda n: f"Revenue {n}")


class LedgerTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerTransaction

    studio = factory.SubFactory(StudioFactory)
    kind = LedgerTransaction.Kind.ADJUSTMENT
    currency = "EUR"
    amount = 1000
    debits = factory.SelfAttribute("amount")
    credits = factory.SelfAttribute("amount")
    idempotency_key = factory.Sequence(lambda n: f"factory:{n}")
    posted_at = factory.LazyFunction(timezone.now)


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerEntry

    transaction = factory.SubFactory(LedgerTransactionFactory)
    studio = factory.SelfAttribute("transaction.studio")
    account = factory.SubFactory(
        LedgerAccountFactory, studio=factory.SelfAttribute("..transaction.studio")
    )
    amount = factory.SelfAttribute("transaction.amount")
    currency = factory.SelfAttribute("transaction.currency")


class LedgerCheckRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerCheckRun

    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    ok = True


# --- billing: wallets and gift cards -----------------------------------------------------------
# Rows only: money on a wallet or a card is posted through ``billing.services`` (a wallet made
# here has an empty account and no lots).
class BillingSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingSettings

    studio = factory.SubFactory(StudioFactory)
    currency = "EUR"
    gift_card_amounts = factory.LazyFunction(lambda: [5000, 10000, 25000])


class WalletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wallet

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    currency = "EUR"
    account = factory.SubFactory(
        LedgerAccountFactory,
        studio=factory.SelfAttribute("..contact.studio"),
        contact=factory.SelfAttribute("..contact"),
        kind=LedgerAccount.Kind.WALLET,
        currency=factory.SelfAttribute("..currency"),
        may_go_negative=False,
        key=factory.LazyAttribute(lambda a: f"wallet:{a.contact.id}:{a.currency}"),
    )


class WalletCreditLotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WalletCreditLot

    wallet = factory.SubFactory(WalletFactory)
    studio = factory.SelfAttribute("wallet.studio")
    amount = 5000
    remaining = factory.SelfAttribute("amount")
    expires_at = _in(days=365)
    source = factory.SubFactory(
        LedgerTransactionFactory,
        studio=factory.SelfAttribute("..wallet.studio"),
        kind=LedgerTransaction.Kind.WALLET_GRANT,
        amount=factory.SelfAttribute("..amount"),
    )


class WalletHoldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WalletHold

    wallet = factory.SubFactory(WalletFactory)
    studio = factory.SelfAttribute("wallet.studio")
    amount = 2000
    reference = factory.Sequence(lambda n: f"checkout {n}")
    expires_at = _in(minutes=30)
    idempotency_key = factory.Sequence(lambda n: f"wallet-hold:factory-{n}")


class GiftCardFactory(factory.django.DjangoModelFactory):
    """A card row with a made-up code hash (no code finds it: cards to redeem come from
    ``billing.services.gift_cards``)."""

    class Meta:
        model = GiftCard

    studio = factory.SubFactory(StudioFactory)
    code_hash = factory.Sequence(lambda n: hashlib.sha256(f"gift-card-{n}".encode()).hexdigest())
    code_last4 = factory.Sequence(lambda n: f"{n % 10000:04d}")
    origin = GiftCard.Origin.ISSUED
    initial_amount = 5000
    currency = "EUR"
    account = factory.SubFactory(
        LedgerAccountFactory,
        studio=factory.SelfAttribute("..studio"),
        kind=LedgerAccount.Kind.GIFT_CARD,
        currency=factory.SelfAttribute("..currency"),
        may_go_negative=False,
        key=factory.Sequence(lambda n: f"gift_card:factory-{n}:EUR"),
    )
    buyer_name = "Jane Doe"
    buyer_email = factory.Sequence(lambda n: f"buyer{n}@example.com")


# --- billing: card payments --------------------------------------------------------------------
# Rows only: a payment that moved money is made through ``billing.services.payments`` (against
# the fake Stripe server in tests), which posts its ledger transactions.
class ConnectedAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectedAccount

    studio = factory.SubFactory(StudioFactory)
    provider_account_id = factory.Sequence(lambda n: f"acct_factory{n:08d}")
    charges_enabled = True
    payouts_enabled = True
    details_submitted = True
    country = "US"


class ProviderCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderCustomer

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    provider_customer_id = factory.Sequence(lambda n: f"cus_factory{n:06d}")
    provider_account_id = factory.Sequence(lambda n: f"acct_factory{n:08d}")


class SavedCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedCard

    customer = factory.SubFactory(ProviderCustomerFactory)
    contact = factory.SelfAttribute("customer.contact")
    studio = factory.SelfAttribute("customer.studio")
    provider_payment_method_id = factory.Sequence(lambda n: f"pm_factory{n:08d}")
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2034


class PaymentFactory(factory.django.DjangoModelFactory):
    """A gift card payment that is still ``created`` (no intent, nothing posted)."""

    class Meta:
        model = Payment

    studio = factory.SubFactory(StudioFactory)
    purpose = Payment.Purpose.GIFT_CARD
    amount = 5000
    currency = "EUR"
    provider_account_id = factory.Sequence(lambda n: f"acct_factory{n:08d}")
    idempotency_key = factory.Sequence(lambda n: f"api:payment:factory-{n}")
    request_fingerprint = factory.Sequence(lambda n: f"{n:064d}")
    payer_email = factory.Sequence(lambda n: f"payer{n}@example.com")
    payer_name = "Jane Doe"


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    studio = factory.SelfAttribute("payment.studio")
    amount = 1000
    currency = factory.SelfAttribute("payment.currency")
    destination = Refund.Destination.CARD
    idempotency_key = factory.Sequence(lambda n: f"api:refund:factory-{n}")


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    payment = factory.SubFactory(PaymentFactory)
    studio = factory.SelfAttribute("payment.studio")
    provider_dispute_id = factory.Sequence(lambda n: f"dp_factory{n:08d}")
    amount = factory.SelfAttribute("payment.amount")
    currency = factory.SelfAttribute("payment.currency")
    reason = "fraudulent"
    status = "needs_response"


class WebhookEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    event_id = factory.Sequence(lambda n: f"evt_factory{n:08d}")
    type = "payment_intent.succeeded"
    payload = factory.LazyAttribute(
        lambda e: {"id": e.event_id, "object": "event", "type": e.type, "data": {"object": {}}}
    )
    received_at = factory.LazyFunction(timezone.now)


# --- billing: invoicing ------------------------------------------------------------------------
# Rows only: an issued invoice (its number, receivable and posting) is made through
# ``billing.services.invoices``; these are drafts and their parts.
class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRate

    studio = factory.SubFactory(StudioFactory)
    name = "VAT"
    rate = Decimal("20")


class CatalogueItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogueItem

    studio = factory.SubFactory(StudioFactory)
    name = factory.Sequence(lambda n: f"Package {n}")
    kind = CatalogueItem.Kind.PACKAGE
    unit_price = 150_000
    currency = "EUR"


class DocumentCounterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentCounter

    studio = factory.SubFactory(StudioFactory)
    series = DocumentCounter.Series.INVOICE
    year = factory.Sequence(lambda n: 2000 + n)


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    title = "Wedding photography"
    currency = "EUR"


class QuoteItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuoteItem

    quote = factory.SubFactory(QuoteFactory)
    studio = factory.SelfAttribute("quote.studio")
    name = "Full day"
    kind = CatalogueItem.Kind.PACKAGE
    unit_price = 250_000


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A draft invoice (no lines, nothing posted)."""

    class Meta:
        model = Invoice

    contact = factory.SubFactory(ContactFactory)
    studio = factory.SelfAttribute("contact.studio")
    currency = "EUR"


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    studio = factory.SelfAttribute("invoice.studio")
    name = "Prints"
    unit_price = 1_000


class InstalmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instalment

    invoice = factory.SubFactory(InvoiceFactory)
    studio = factory.SelfAttribute("invoice.studio")
    position = factory.Sequence(lambda n: n)
    label = "Deposit"
    due_date = factory.LazyFunction(lambda: timezone.now().date())
    amount = 1_000


class InvoiceReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceReminder

    instalment = factory.SubFactory(InstalmentFactory)
    studio = factory.SelfAttribute("instalment.studio")
    key = factory.Sequence(lambda n: f"overdue:{n}")


class AutopayAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutopayAttempt

    instalment = factory.SubFactory(InstalmentFactory)
    studio = factory.SelfAttribute("instalment.studio")
    number = factory.Sequence(lambda n: n + 1)
    amount = factory.SelfAttribute("instalment.amount")
    currency = "EUR"
