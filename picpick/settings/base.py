"""Settings shared by every environment; every knob is read from the environment."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from picpick.core.clientaddr import trusted_proxies
from picpick.core.env import env_bool, env_choice, env_int, env_list, env_str
from picpick.core.observability.logs import logging_config
from picpick.core.ratelimit import parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PICPICK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str(
    "DJANGO_SECRET_KEY", ""
)  # each environment module decides whether a default is allowed
# Studios serve their sites on custom domains that are rows, added at any time, so Django's
# ALLOWED_HOSTS cannot list them. domains.middleware.HostRoutingMiddleware, the first
# middleware, is the host validation instead: it answers 400 to every host that is not an API
# host, an internal host, a studio subdomain or an active custom domain (see "Hosts" below).
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "galleries",
    "faces",
    "crm",
    "billing",
    "domains",
    "guests",
    # The project itself, above every app: commands that span them all (load_demo).
    "picpick",
]

MIDDLEWARE = [
    # Before everything: the request id, one log line and the metrics of every request, those
    # the host check refuses included (picpick.core.observability).
    "picpick.core.observability.middleware.RequestObservabilityMiddleware",
    # Then: every other middleware and view may trust the host (and request.site) it sets.
    "domains.middleware.HostRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "picpick.core.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: every writing request's view runs in one transaction (picpick.core.transactions).
    "picpick.core.transactions.RequestTransactionMiddleware",
]

ROOT_URLCONF = "picpick.urls"
WSGI_APPLICATION = "picpick.wsgi.application"
ASGI_APPLICATION = "picpick.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "picpick" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'picpick.sqlite3'}")


def database_config(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.mysql":
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            # Django's recommendation for MySQL: REPEATABLE READ makes get_or_create and
            # select_for_update retries see stale snapshots.
            "isolation_level": "read committed",
            "init_command": (
                "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'"
            ),
        }
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASES = {"default": database_config(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "picpick"),
        }
    }
else:
    # Per process, without a server. Host routing keeps one entry per studio host asked for, so
    # the default 300 entries would evict a warm routing cache on any sizeable test or benchmark.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

# --- Auth ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=300)
INVITATION_TTL_DAYS = env_int("PICPICK_INVITATION_TTL_DAYS", 7, minimum=1, maximum=60)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 10, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 30, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
}

# Failed logins per account (per email, known or not, whatever the address) per window; then
# the account's logins answer 429 account_locked until the window ends, right password or not.
PICPICK_LOGIN_LOCKOUT_ATTEMPTS = env_int("PICPICK_LOGIN_LOCKOUT_ATTEMPTS", 10, minimum=1)
PICPICK_LOGIN_LOCKOUT_WINDOW_SECONDS = env_int(
    "PICPICK_LOGIN_LOCKOUT_WINDOW_SECONDS", 15 * 60, minimum=60, maximum=24 * 3600
)

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Email ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PicPick <no-reply@picpick.localhost>")
# Links in emails are built from this, never from the request's Host header.
PICPICK_PUBLIC_URL = env_str("PICPICK_PUBLIC_URL", "http://localhost:8000").rstrip("/")
PICPICK_APP_URL = env_str("PICPICK_APP_URL", PICPICK_PUBLIC_URL).rstrip("/")
# CRM: the region a phone number typed without a country prefix is read in (ISO 3166 alpha-2),
# and the largest contacts CSV an import accepts.
PICPICK_CRM_PHONE_REGION = env_str("PICPICK_CRM_PHONE_REGION", "US").upper()
PICPICK_CRM_IMPORT_MAX_BYTES = env_int(
    "PICPICK_CRM_IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1024, maximum=500 * 1024 * 1024
)
# CRM inquiry forms: a person takes at least MIN_SECONDS to send one (scripts post at once); a
# form's token lives TOKEN_MAX_AGE; one client address sends PER_ADDRESS per WINDOW_SECONDS;
# one email address gets REPLIES_PER_EMAIL auto-replies a day (the address is the sender's
# word, so the form must not mail someone who never asked, over and over).
PICPICK_CRM_INQUIRY_MIN_SECONDS = env_int(
    "PICPICK_CRM_INQUIRY_MIN_SECONDS", 3, minimum=0, maximum=60
)
PICPICK_CRM_INQUIRY_TOKEN_MAX_AGE = env_int(
    "PICPICK_CRM_INQUIRY_TOKEN_MAX_AGE", 2 * 3600, minimum=300, maximum=24 * 3600
)
PICPICK_CRM_INQUIRY_PER_ADDRESS = env_int("PICPICK_CRM_INQUIRY_PER_ADDRESS", 5, minimum=1)
PICPICK_CRM_INQUIRY_WINDOW_SECONDS = env_int(
    "PICPICK_CRM_INQUIRY_WINDOW_SECONDS", 3600, minimum=60, maximum=86400
)
PICPICK_CRM_INQUIRY_REPLIES_PER_EMAIL = env_int(
    "PICPICK_CRM_INQUIRY_REPLIES_PER_EMAIL", 3, minimum=0
)
# Billing, wallets and gift cards. Gift card codes are hashed (lookup) and sealed (until the
# delivery email) with keys derived from PICPICK_GIFT_CARD_KEY: a long random string, kept
# forever (changing it makes every card's code unknown). Unset, it is derived from the secret
# key, which then may never be rotated while cards live: set it in production.
PICPICK_GIFT_CARD_KEY = env_str("PICPICK_GIFT_CARD_KEY", "")
if PICPICK_GIFT_CARD_KEY and len(PICPICK_GIFT_CARD_KEY) < 32:
    raise ImproperlyConfigured("PICPICK_GIFT_CARD_KEY must be at least 32 random characters.")
# Wrong gift card codes (a balance check or a redemption) per client address per window, and
# per studio per hour from all addresses together.
PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS = env_int(
    "PICPICK_GIFT_CARD_GUESSES_PER_ADDRESS", 10, minimum=1
)
PICPICK_GIFT_CARD_GUESS_WINDOW_SECONDS = env_int(
    "PICPICK_GIFT_CARD_GUESS_WINDOW_SECONDS", 900, minimum=60, maximum=86400
)
PICPICK_GIFT_CARD_GUESSES_PER_STUDIO = env_int(
    "PICPICK_GIFT_CARD_GUESSES_PER_STUDIO", 200, minimum=1
)
# How long the link to a client's wallet page (in the credit expiry reminder) works.
PICPICK_WALLET_LINK_DAYS = env_int("PICPICK_WALLET_LINK_DAYS", 30, minimum=1, maximum=365)

# --- Storage -------------------------------------------------------------------------------
# Photo bytes go straight from clients to object storage with presigned requests
# (picpick.core.storage). "local" keeps objects in a folder and serves the presigned URLs from
# this app under /storage/ (make run, tests); "s3" is any S3 API (AWS, MinIO). AWS credentials
# come from the standard AWS_* variables or the instance role, never from here.
PICPICK_STORAGE = env_choice("PICPICK_STORAGE", "local", {"local", "s3"})
PICPICK_LOCAL_STORAGE_ROOT = Path(env_str("PICPICK_LOCAL_STORAGE_ROOT", str(VAR_DIR / "objects")))
PICPICK_S3_BUCKET = env_str("PICPICK_S3_BUCKET", "")
PICPICK_S3_REGION = env_str("PICPICK_S3_REGION", env_str("AWS_REGION", "us-east-1"))
PICPICK_S3_ENDPOINT_URL = env_str("PICPICK_S3_ENDPOINT_URL", "")  # MinIO; empty for AWS
PICPICK_S3_ADDRESSING_STYLE = env_choice(
    "PICPICK_S3_ADDRESSING_STYLE", "auto", {"auto", "path", "virtual"}
)
if PICPICK_STORAGE == "s3" and not PICPICK_S3_BUCKET:
    raise ImproperlyConfigured("PICPICK_STORAGE=s3 needs PICPICK_S3_BUCKET.")
# Optional: reads through CloudFront signed URLs. The key is a PEM in CLOUDFRONT_PRIVATE_KEY or
# a file named by CLOUDFRONT_PRIVATE_KEY_FILE. All three or none: half a configuration would
# silently serve reads from the bucket.
PICPICK_CLOUDFRONT_DOMAIN = env_str("CLOUDFRONT_DOMAIN", "")
PICPICK_CLOUDFRONT_KEY_ID = env_str("CLOUDFRONT_KEY_ID", "")
PICPICK_CLOUDFRONT_PRIVATE_KEY = env_str("CLOUDFRONT_PRIVATE_KEY", "")
_cloudfront = (PICPICK_CLOUDFRONT_DOMAIN, PICPICK_CLOUDFRONT_KEY_ID, PICPICK_CLOUDFRONT_PRIVATE_KEY)
if any(_cloudfront) and not all(_cloudfront):
    raise ImproperlyConfigured(
        "CloudFront signing needs CLOUDFRONT_DOMAIN, CLOUDFRONT_KEY_ID and "
        "CLOUDFRONT_PRIVATE_KEY (or CLOUDFRONT_PRIVATE_KEY_FILE), or none of them."
    )
# A signed wildcard URL grants every object under the page's common folder; refuse folders
# shallower than this many segments (e.g. a whole studio) and sign each URL instead.
PICPICK_CLOUDFRONT_WILDCARD_MIN_DEPTH = env_int(
    "PICPICK_CLOUDFRONT_WILDCARD_MIN_DEPTH", 3, minimum=1
)
# Default lifetimes of presigned requests (seconds); S3 caps them at 7 days.
PICPICK_STORAGE_GET_EXPIRES = env_int(
    "PICPICK_STORAGE_GET_EXPIRES", 3600, minimum=60, maximum=604800
)
PICPICK_STORAGE_PUT_EXPIRES = env_int(
    "PICPICK_STORAGE_PUT_EXPIRES", 3600, minimum=60, maximum=604800
)
# --- end of Storage ---

# --- Uploads (galleries.services.uploads) ----------------------------------------------------
# Per-file limit. RAW files rarely pass 200 MB and a TIFF scan a gigabyte; S3's own cap is 5 TiB.
PICPICK_MAX_FILE_BYTES = env_int(
    "PICPICK_MAX_FILE_BYTES", 2 * 1024**3, minimum=1, maximum=5 * 1024**4
)
# Files up to this size get one presigned PUT, larger ones S3 multipart (S3 allows 5 GiB).
PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES = env_int(
    "PICPICK_UPLOAD_SINGLE_PUT_MAX_BYTES", 64 * 1024**2, minimum=1, maximum=5 * 1024**3
)
# Preferred multipart part size (S3: 5 MiB..5 GiB); grown for files that would need >10,000.
PICPICK_UPLOAD_PART_BYTES = env_int(
    "PICPICK_UPLOAD_PART_BYTES", 16 * 1024**2, minimum=5 * 1024**2, maximum=5 * 1024**3
)
# Lifetime of multipart part URLs (single PUT URLs use PICPICK_STORAGE_PUT_EXPIRES).
PICPICK_UPLOAD_PART_EXPIRES = env_int(
    "PICPICK_UPLOAD_PART_EXPIRES", 6 * 3600, minimum=60, maximum=604800
)
# An upload not completed this long after its start (or its last renewal) is abandoned; the
# sweeper cleans it up once the grace has passed too.
PICPICK_UPLOAD_TTL_HOURS = env_int("PICPICK_UPLOAD_TTL_HOURS", 24, minimum=1, maximum=168)
PICPICK_UPLOAD_SWEEP_GRACE_MINUTES = env_int(
    "PICPICK_UPLOAD_SWEEP_GRACE_MINUTES", 15, minimum=0, maximum=24 * 60
)
# Multipart uploads under studios/ that no pending upload knows are aborted after this.
PICPICK_UPLOAD_ORPHAN_DAYS = env_int("PICPICK_UPLOAD_ORPHAN_DAYS", 2, minimum=1, maximum=30)
# An original no photo references (e.g. PUT again after its photo was deleted) is deleted by
# the orphan sweep once it is this old: a margin, never needed by a working upload.
PICPICK_ORPHAN_ORIGINALS_GRACE_HOURS = env_int(
    "PICPICK_ORPHAN_ORIGINALS_GRACE_HOURS", 24, minimum=1, maximum=24 * 30
)
# Storage quota per plan (bytes); pending uploads count with their declared size.
PICPICK_QUOTA_FREE_BYTES = env_int("PICPICK_QUOTA_FREE_BYTES", 10 * 1024**3, minimum=0)
PICPICK_QUOTA_PRO_BYTES = env_int("PICPICK_QUOTA_PRO_BYTES", 1024**4, minimum=0)
PICPICK_QUOTA_BUSINESS_BYTES = env_int("PICPICK_QUOTA_BUSINESS_BYTES", 10 * 1024**4, minimum=0)
# --- end of Uploads ---

# --- Delivery (downloads, ZIPs, storage lifecycle) ------------------------------------------
# A requested ZIP stays downloadable this many days, then the periodic sweep deletes it.
PICPICK_DOWNLOAD_EXPIRE_DAYS = env_int("PICPICK_DOWNLOAD_EXPIRE_DAYS", 7, minimum=1, maximum=30)
# A ZIP of a whole wedding is long I/O: it gets its own time limits instead of the global ones.
PICPICK_DOWNLOAD_TIME_LIMIT = env_int("PICPICK_DOWNLOAD_TIME_LIMIT", 3000, minimum=60)
# Archived galleries' originals are tagged; the bucket's lifecycle rule moves tagged objects
# older than this many days (counted by S3 from the upload) to the colder storage class.
PICPICK_ARCHIVE_TRANSITION_DAYS = env_int("PICPICK_ARCHIVE_TRANSITION_DAYS", 30, minimum=0)
# Only classes readable at once: downloads and ZIPs read archived originals directly, and
# GLACIER / DEEP_ARCHIVE objects would first need a restore that takes hours.
PICPICK_ARCHIVE_STORAGE_CLASS = env_choice(
    "PICPICK_ARCHIVE_STORAGE_CLASS",
    "GLACIER_IR",
    {"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"},
)
PICPICK_ABORT_INCOMPLETE_MULTIPART_DAYS = env_int(
    "PICPICK_ABORT_INCOMPLETE_MULTIPART_DAYS", 7, minimum=1
)
# --- end of Delivery ---

# --- Processing (galleries.services.processing) --------------------------------------------
# Every derivative is made from one decode whose long edge is at least this (the preview's size).
PICPICK_PROCESSING_WORKING_EDGE = env_int(
    "PICPICK_PROCESSING_WORKING_EDGE", 2048, minimum=400, maximum=8192
)
# Images over this many pixels are refused (a 150 MP medium-format file passes); Pillow's own
# decompression-bomb guard is set to the same figure by galleries.imaging.
PICPICK_MAX_IMAGE_PIXELS = env_int(
    "PICPICK_MAX_IMAGE_PIXELS", 210_000_000, minimum=1_000_000, maximum=1_000_000_000
)
# Limits of one photo's task: a 60 MB RAW without a usable preview is demosaiced in ~20 s on a
# slow core; the soft limit marks the photo failed ("timeout"), the hard one kills the task.
PICPICK_PROCESSING_SOFT_TIME_LIMIT = env_int(
    "PICPICK_PROCESSING_SOFT_TIME_LIMIT", 120, minimum=5, maximum=3000
)
PICPICK_PROCESSING_TIME_LIMIT = env_int(
    "PICPICK_PROCESSING_TIME_LIMIT", 150, minimum=10, maximum=3300
)
if PICPICK_PROCESSING_SOFT_TIME_LIMIT >= PICPICK_PROCESSING_TIME_LIMIT:
    raise ImproperlyConfigured(
        "PICPICK_PROCESSING_SOFT_TIME_LIMIT must be below PICPICK_PROCESSING_TIME_LIMIT."
    )
# A photo is tried this many times (storage errors, killed workers) before it is failed.
PICPICK_PROCESSING_MAX_ATTEMPTS = env_int(
    "PICPICK_PROCESSING_MAX_ATTEMPTS", 3, minimum=1, maximum=20
)
# An `uploaded` photo untouched this long lost its message (a broker restart): the sweeper
# queues it again. Duplicates are harmless (the claim is atomic), so erring short is safe.
PICPICK_PROCESSING_REQUEUE_MINUTES = env_int(
    "PICPICK_PROCESSING_REQUEUE_MINUTES", 15, minimum=1, maximum=24 * 60
)
# --- end of Processing ---

# --- Selfie search (faces.matching, faces.selectors.index, faces.services.search) -----------
# Per-process LRU of gallery face matrices (512 B per face + ids): 10^5 faces ≈ 70 MB.
PICPICK_FACE_INDEX_CACHE_BYTES = env_int(
    "PICPICK_FACE_INDEX_CACHE_BYTES", 512 * 1024 * 1024, minimum=0
)
PICPICK_SELFIE_MAX_BYTES = env_int(
    "PICPICK_SELFIE_MAX_BYTES", 10 * 1024 * 1024, minimum=64 * 1024, maximum=50 * 1024 * 1024
)
# A phone selfie is 12–48 MP; anything larger is refused before it is decoded.
PICPICK_SELFIE_MAX_PIXELS = env_int(
    "PICPICK_SELFIE_MAX_PIXELS", 64_000_000, minimum=1_000_000, maximum=210_000_000
)
PICPICK_SELFIE_MIN_EDGE = env_int("PICPICK_SELFIE_MIN_EDGE", 64, minimum=16, maximum=1024)
# Long edge the selfie is decoded and detected at: the face fills a selfie, so ~1000 px is plenty.
PICPICK_SELFIE_DETECT_EDGE = env_int("PICPICK_SELFIE_DETECT_EDGE", 1024, minimum=320, maximum=4096)
# Euclidean distance at which a gallery face is the selfie's person (and hidden by "hide me"),
# in thousandths: 600 = face_recognition's 0.6.
PICPICK_SELFIE_MATCH_MILLI = env_int("PICPICK_SELFIE_MATCH_MILLI", 600, minimum=300, maximum=800)
PICPICK_SELFIE_MAX_RESULTS = env_int("PICPICK_SELFIE_MAX_RESULTS", 1000, minimum=1)
# Guest rate limits (fixed windows, counted atomically in the cache).
PICPICK_SELFIE_RATE_WINDOW_SECONDS = env_int(
    "PICPICK_SELFIE_RATE_WINDOW_SECONDS", 60, minimum=1, maximum=3600
)
PICPICK_SELFIE_RATE_PER_ADDRESS = env_int("PICPICK_SELFIE_RATE_PER_ADDRESS", 10, minimum=1)
PICPICK_SELFIE_RATE_PER_GALLERY = env_int("PICPICK_SELFIE_RATE_PER_GALLERY", 300, minimum=1)
# --- end of Selfie search ---

# --- Face detection (faces.embedding, faces.pipeline) -----------------------------------------
# Measured on 24 MP event photos (bench/bench_faces.py): a first HOG pass on the working image
# at 1024 px (the selfie search's size) finds faces ≥ ~470 px; a second pass re-scans only
# textured skin-coloured blobs at the resolution each needs, down to ~40 px faces; where such
# regions are too large to be a face (busy warm rooms), a Haar cascade reads them at up to
# PICPICK_FACES_BUSY_MAX_PIXELS (more finds smaller faces there and costs ~0.3 s more per
# extra megapixel).
PICPICK_FACES_DETECT_LONG_EDGE = env_int(
    "PICPICK_FACES_DETECT_LONG_EDGE", 1024, minimum=320, maximum=8192
)
PICPICK_FACES_UPSAMPLE = env_int("PICPICK_FACES_UPSAMPLE", 0, minimum=0, maximum=2)
PICPICK_FACES_SMALL_FACES = env_bool("PICPICK_FACES_SMALL_FACES", True)
PICPICK_FACES_BUSY_MAX_PIXELS = env_int(
    "PICPICK_FACES_BUSY_MAX_PIXELS", 4_000_000, minimum=100_000, maximum=50_000_000
)
PICPICK_FACES_LANDMARKS = env_choice("PICPICK_FACES_LANDMARKS", "small", {"small", "large"})
PICPICK_FACES_JITTERS = env_int("PICPICK_FACES_JITTERS", 1, minimum=1, maximum=20)
# "numpy": dlib's network through numpy's BLAS (~16 ms a face); "dlib": its own (~90+ ms).
PICPICK_FACES_ENCODER = env_choice("PICPICK_FACES_ENCODER", "numpy", {"numpy", "dlib"})

# --- Guests (galleries on the studio's site and the guest API) -----------------------------
# A guest's gallery token (cookie or X-Gallery-Token) lives this long.
PICPICK_GUEST_TOKEN_HOURS = env_int("PICPICK_GUEST_TOKEN_HOURS", 12, minimum=1, maximum=24 * 30)
# Wrong password/PIN guesses per gallery and client address per window (counted atomically),
# and per gallery from all addresses together: the ceiling bounds guessing spread over many
# addresses, and it is high enough that a shared venue address reaching its own limit leaves
# the gallery open to everyone else.
PICPICK_GUEST_UNLOCK_ATTEMPTS = env_int("PICPICK_GUEST_UNLOCK_ATTEMPTS", 10, minimum=1)
PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS = env_int(
    "PICPICK_GUEST_UNLOCK_GALLERY_ATTEMPTS", 100, minimum=1
)
PICPICK_GUEST_UNLOCK_WINDOW_SECONDS = env_int(
    "PICPICK_GUEST_UNLOCK_WINDOW_SECONDS", 15 * 60, minimum=10
)
PICPICK_GUEST_MAX_LISTS = env_int("PICPICK_GUEST_MAX_LISTS", 20, minimum=1)
PICPICK_GUEST_MAX_FAVOURITES = env_int("PICPICK_GUEST_MAX_FAVOURITES", 5000, minimum=1)
# --- end of Face detection ---

# --- People (faces.services.clustering) ------------------------------------------------------
# A clustering run starts this long after the first face of a burst: the photos of an upload
# batch arrive over minutes, and one run per photo would recluster the gallery hundreds of times.
PICPICK_FACE_CLUSTER_DELAY_SECONDS = env_int(
    "PICPICK_FACE_CLUSTER_DELAY_SECONDS", 30, minimum=0, maximum=3600
)
# --- end of People ---

# --- Hosts and custom domains (domains) -------------------------------------------------------
# The API, the admin and the docs answer on these hosts only.
PICPICK_API_HOSTS = [
    host.lower() for host in env_list("PICPICK_API_HOSTS", ["localhost", "127.0.0.1", "testserver"])
]
# Hosts other services call us by inside the deployment (Caddy's on-demand TLS "ask", the
# healthcheck): they see /healthz and /internal/ only.
PICPICK_INTERNAL_HOSTS = [host.lower() for host in env_list("PICPICK_INTERNAL_HOSTS", ["web"])]
# Every studio's site is <slug>.<PICPICK_BASE_DOMAIN>; "localhost" works without any DNS setup
# (browsers resolve *.localhost to loopback). Production requires it to be set.
PICPICK_BASE_DOMAIN = env_str("PICPICK_BASE_DOMAIN", "localhost").lower().rstrip(".")
if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", PICPICK_BASE_DOMAIN):
    raise ImproperlyConfigured(f"PICPICK_BASE_DOMAIN={PICPICK_BASE_DOMAIN!r} is not a hostname.")
# Absolute URLs of studio sites are built from these, never from the request's Host header.
PICPICK_SITE_SCHEME = env_choice("PICPICK_SITE_SCHEME", "https", {"http", "https"})
PICPICK_SITE_PORT = env_int("PICPICK_SITE_PORT", 0, minimum=0, maximum=65535) or None
# Where studios point their custom domains: a subdomain by CNAME, an apex by A/AAAA records
# (an apex cannot hold a CNAME). Without an IPv4 address, apex domains cannot be added.
PICPICK_EDGE_CNAME = (
    env_str("PICPICK_EDGE_CNAME", f"edge.{PICPICK_BASE_DOMAIN}").lower().rstrip(".")
)


def _ip_addresses(name: str, values: list[str], version: int) -> list[str]:
    try:
        addresses = [ipaddress.ip_address(value) for value in values]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    if any(address.version != version for address in addresses):
        raise ImproperlyConfigured(f"{name} must list IPv{version} addresses only.")
    return [str(address) for address in addresses]


PICPICK_EDGE_IPV4 = _ip_addresses("PICPICK_EDGE_IPV4", env_list("PICPICK_EDGE_IPV4"), 4)
PICPICK_EDGE_IPV6 = _ip_addresses("PICPICK_EDGE_IPV6", env_list("PICPICK_EDGE_IPV6"), 6)


def dns_resolvers(name: str, values: list[str]) -> list[tuple[str, int]]:
    """``["192.0.2.53", "127.0.0.1:5353", "[2001:db8::53]:53"]`` -> ``[(address, port), ...]``."""
    parsed = []
    for value in values:
        match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?|([0-9.]+)(?::(\d+))?", value)
        if match is None:
            raise ImproperlyConfigured(f"{name}: {value!r} is not ADDRESS[:PORT] or [IPV6]:PORT.")
        address, port = (match[1], match[2]) if match[1] else (match[3], match[4])
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {exc}") from exc
        port_number = int(port or 53)
        if not 0 < port_number < 65536:
            raise ImproperlyConfigured(f"{name}: port {port_number} is out of range.")
        parsed.append((address, port_number))
    return parsed


# The recursive resolver(s) domain verification asks, e.g. "127.0.0.1:5353"; empty: the
# system's resolver. Answers are never cached here: a fixed record must count at the next check.
PICPICK_DNS_RESOLVER = dns_resolvers("PICPICK_DNS_RESOLVER", env_list("PICPICK_DNS_RESOLVER"))
PICPICK_DNS_TIMEOUT_SECONDS = env_int("PICPICK_DNS_TIMEOUT_SECONDS", 5, minimum=1, maximum=30)
# A new domain is checked with backoff (1 minute doubling to 6 hours) for this many days, then
# failed; an active one is re-checked every PICPICK_DOMAIN_RECHECK_HOURS and deactivated once
# its records have been missing for PICPICK_DOMAIN_GRACE_HOURS (no dangling domains).
PICPICK_DOMAIN_VERIFY_DAYS = env_int("PICPICK_DOMAIN_VERIFY_DAYS", 7, minimum=1, maximum=90)
PICPICK_DOMAIN_RECHECK_HOURS = env_int("PICPICK_DOMAIN_RECHECK_HOURS", 6, minimum=1, maximum=168)
PICPICK_DOMAIN_GRACE_HOURS = env_int("PICPICK_DOMAIN_GRACE_HOURS", 72, minimum=1, maximum=720)
# Host -> site answers are cached (invalidated when a domain or a studio's slug changes);
# unknown hosts briefly, so a flood of random names cannot reach the database each time.
PICPICK_HOST_CACHE_SECONDS = env_int("PICPICK_HOST_CACHE_SECONDS", 300, minimum=1, maximum=86400)
PICPICK_HOST_NEGATIVE_CACHE_SECONDS = env_int(
    "PICPICK_HOST_NEGATIVE_CACHE_SECONDS", 30, minimum=1, maximum=3600
)
# --- end of Hosts and custom domains ---

# --- Card payments (billing.payments) ---------------------------------------------------------
# Stripe, each studio on its own connected account (direct charges). Keys come from the
# environment only. Without STRIPE_SECRET_KEY payments are off (`make run` works; payment calls
# answer 503 payments_not_configured); with it the publishable key and the webhook secret are
# required too (without webhooks, payments whose outcome comes later would stay pending).
# STRIPE_API_BASE is https, or a loopback address for tests and local mocks.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
STRIPE_TIMEOUT_S = env_int("STRIPE_TIMEOUT_S", 10, minimum=1, maximum=80)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2, minimum=0, maximum=5)
# PicPick's application fee on each charge, in basis points of its amount (0: none).
PICPICK_STRIPE_APPLICATION_FEE_BPS = env_int(
    "PICPICK_STRIPE_APPLICATION_FEE_BPS", 0, minimum=0, maximum=10_000
)
if STRIPE_SECRET_KEY and not re.fullmatch(r"(sk|rk)_(test|live)_\S+", STRIPE_SECRET_KEY):
    raise ImproperlyConfigured("STRIPE_SECRET_KEY is not a Stripe secret key (sk_... or rk_...).")
if STRIPE_PUBLISHABLE_KEY and not STRIPE_PUBLISHABLE_KEY.startswith("pk_"):
    raise ImproperlyConfigured("STRIPE_PUBLISHABLE_KEY is not a publishable key (pk_...).")
if STRIPE_SECRET_KEY and not (STRIPE_WEBHOOK_SECRET and STRIPE_PUBLISHABLE_KEY):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY needs STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET, or unset all."
    )
_stripe_base = re.fullmatch(r"(https?)://([^/:]+|\[[0-9a-fA-F:]+\])(:\d+)?", STRIPE_API_BASE)
if _stripe_base is None or (
    _stripe_base[1] == "http" and _stripe_base[2] not in {"127.0.0.1", "localhost", "[::1]"}
):
    raise ImproperlyConfigured(
        f"STRIPE_API_BASE={STRIPE_API_BASE!r}: an https:// address (or http:// on loopback)."
    )
# The card form's Stripe.js (tests point it at the fake Stripe's); https, or loopback http.
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
_stripe_js = re.fullmatch(r"(https?)://([^/:]+|\[[0-9a-fA-F:]+\])(:\d+)?/\S*", STRIPE_JS_URL)
if _stripe_js is None or (
    _stripe_js[1] == "http" and _stripe_js[2] not in {"127.0.0.1", "localhost", "[::1]"}
):
    raise ImproperlyConfigured(
        f"STRIPE_JS_URL={STRIPE_JS_URL!r}: an https:// address (or http:// on loopback)."
    )
# The sweeper completes payments and card refunds still open this many minutes after they
# started (a lost answer, a dead worker, a missing webhook) from the provider's state; an
# unpaid payment is canceled (its gift card given up) after ABANDON_HOURS.
PICPICK_PAYMENTS_SWEEP_AFTER_MINUTES = env_int(
    "PICPICK_PAYMENTS_SWEEP_AFTER_MINUTES", 10, minimum=1, maximum=24 * 60
)
PICPICK_PAYMENTS_ABANDON_HOURS = env_int(
    "PICPICK_PAYMENTS_ABANDON_HOURS", 24, minimum=1, maximum=30 * 24
)
# The client pages' payments: starts per client address and per studio an hour, and status
# reads per client address an hour (a receipt page polls every second while it waits).
PICPICK_PAYMENTS_STARTS_PER_ADDRESS = env_int("PICPICK_PAYMENTS_STARTS_PER_ADDRESS", 20, minimum=1)
PICPICK_PAYMENTS_STARTS_PER_STUDIO = env_int("PICPICK_PAYMENTS_STARTS_PER_STUDIO", 500, minimum=1)
PICPICK_PAYMENTS_STATUS_PER_ADDRESS = env_int(
    "PICPICK_PAYMENTS_STATUS_PER_ADDRESS", 1200, minimum=1
)
# --- end of Card payments ---


# --- API -----------------------------------------------------------------------------------
def env_rate(name: str, default: str) -> str:
    """A DRF rate such as ``20/min``, refused at start when malformed."""
    value = env_str(name, default)
    try:
        parse_rate(value)
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    return value


# Proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDRs): the client is
# the right-most address in it that is not one of these (picpick.core.clientaddr). Empty: the
# peer is the client. Behind Caddy in docker-compose.yml: Caddy's network.
PICPICK_TRUSTED_PROXIES = trusted_proxies(
    "PICPICK_TRUSTED_PROXIES", env_list("PICPICK_TRUSTED_PROXIES")
)
PICPICK_API_MAX_BODY_BYTES = env_int("PICPICK_API_MAX_BODY_BYTES", 1_048_576, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PICPICK_API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.StudioJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["picpick.core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "picpick.core.errors.exception_handler",
    # Counted atomically in the cache per real client address (or user): picpick.core.throttles.
    "DEFAULT_THROTTLE_CLASSES": [
        "picpick.core.throttles.AnonRateThrottle",
        "picpick.core.throttles.UserRateThrottle",
        "picpick.core.throttles.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON", "120/min"),
        "user": env_rate("THROTTLE_USER", "2000/min"),
        "auth": env_rate("THROTTLE_AUTH", "20/min"),
        "password_reset": env_rate("THROTTLE_PASSWORD_RESET", "5/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PicPick API",
    "DESCRIPTION": (
        "The studio API of PicPick. Authenticate with `POST /api/v1/auth/login/` and send "
        "`Authorization: Bearer <access>`. Every error has the shape "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "picpick.core.openapi.document_common_errors",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Role",
        "GalleryStatusEnum": "galleries.models.Gallery.Status",
        "PhotoStateEnum": "galleries.models.Photo.State",
        "UploadStateEnum": "galleries.models.Upload.State",
        "UploadFileStateEnum": "galleries.selectors.uploads.FILE_STATES",
        "DomainStateEnum": "domains.models.Domain.State",
        "DomainKindEnum": "domains.models.Domain.Kind",
        "DownloadJobStateEnum": "galleries.models.DownloadJob.State",
        "DownloadSizeEnum": "galleries.models.DownloadJob.Size",
        "CustomFieldKindEnum": "crm.models.CustomFieldDefinition.Kind",
        "InquiryQuestionKindEnum": "crm.inquiry_fields.KINDS",
        "CustomFieldAppliesToEnum": "crm.models.CustomFieldDefinition.AppliesTo",
        "ContactSourceEnum": "crm.models.Contact.Source",
        "ImportJobStateEnum": "crm.models.ImportJob.State",
        "PaymentPurposeEnum": "billing.models.payments.Payment.Purpose",
        "PaymentStateEnum": "billing.models.payments.Payment.State",
        "RefundStateEnum": "billing.models.payments.Refund.State",
        "RefundDestinationEnum": "billing.models.payments.Refund.Destination",
        "CatalogueItemKindEnum": "billing.models.invoices.CatalogueItem.Kind",
        "QuoteStateEnum": "billing.models.invoices.Quote.State",
        "InvoiceKindEnum": "billing.models.invoices.Invoice.Kind",
        "InvoiceStatusEnum": "billing.models.invoices.Invoice.Status",
        "InvoiceRoundingEnum": "billing.models.invoices.Invoice.Rounding",
        "InvoiceLineKindEnum": "billing.models.invoices.InvoiceLine.Kind",
        "OfflinePaymentMethodEnum": "billing.apis.invoices.payments.METHOD_CHOICES",
        "UploadMethodEnum": "galleries.apis.uploads.UPLOAD_METHODS",
    },
}

# --- Celery --------------------------------------------------------------------------------
# Without REDIS_URL the broker is a folder: the same asynchronous flow with no server to run.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery" / "queue"
    # kombu's filesystem transport does not create its folders, and a worker dies without them.
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        # Its exchange files otherwise land in ./control, wherever the process was started.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
else:
    # A task acknowledged late is redelivered if its worker dies; the visibility timeout must
    # outlast the longest task or Redis redelivers tasks that are still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=2)
# A soft limit at or above the hard one never fires (the task is killed without its cleanup),
# and a visibility timeout shorter than the hard limit redelivers tasks that are still running.
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", CELERY_TASK_TIME_LIMIT + 1) <= (
    CELERY_TASK_TIME_LIMIT
):
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT.")
# The ZIP build's hard limit is PICPICK_DOWNLOAD_TIME_LIMIT + 60 (galleries.tasks).
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", PICPICK_DOWNLOAD_TIME_LIMIT + 61) <= (
    PICPICK_DOWNLOAD_TIME_LIMIT + 60
):
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must exceed PICPICK_DOWNLOAD_TIME_LIMIT + 60 seconds."
    )
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", PICPICK_PROCESSING_TIME_LIMIT + 1) <= (
    PICPICK_PROCESSING_TIME_LIMIT
):
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must exceed PICPICK_PROCESSING_TIME_LIMIT."
    )
CELERY_TASK_DEFAULT_QUEUE = "default"
# Tasks outside the apps' tasks modules (autodiscovery finds only those).
CELERY_IMPORTS = [
    "picpick.core.email",
    "billing.tasks.wallets",
    "billing.tasks.gift_cards",
    "billing.tasks.payments",
    "billing.tasks.documents",
    "billing.tasks.invoices",
]
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "media", "faces", "billing")]
CELERY_TASK_ROUTES = {
    "galleries.tasks.*": {"queue": "media"},
    "faces.tasks.*": {"queue": "faces"},
    "billing.tasks.*": {"queue": "billing"},
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE: dict = {
    "photos-sweep-stuck": {
        "task": "galleries.tasks.photos_sweep_stuck",
        "schedule": timedelta(minutes=5),
    },
    "tokens-flush-expired": {
        "task": "accounts.tasks.tokens_flush_expired",
        "schedule": timedelta(hours=24),
    },
    "uploads-sweep": {
        "task": "galleries.tasks.uploads_sweep",
        "schedule": timedelta(minutes=15),
    },
    "originals-orphans-sweep": {
        "task": "galleries.tasks.originals_orphans_sweep",
        "schedule": timedelta(hours=1),
        "options": {"queue": "default"},  # storage I/O: kept off the media workers
    },
    "faces-cluster-sweep": {
        "task": "faces.tasks.galleries_cluster_sweep",
        "schedule": timedelta(minutes=5),
    },
    "faces-step-sweep": {
        "task": "faces.tasks.photos_face_step_sweep",
        "schedule": timedelta(minutes=10),
    },
    "faces-retention": {
        "task": "faces.tasks.faces_retention_sweep",
        "schedule": timedelta(hours=6),
    },
    "downloads-expire": {
        "task": "galleries.tasks.downloads_expire",
        "schedule": timedelta(hours=1),
        "options": {"queue": "default"},  # storage I/O: kept off the media workers
    },
    # Custom domains: each run queues the checks that are due (rows carry their own backoff),
    # so a frequent beat costs one indexed query when nothing is due.
    "domains-verify": {
        "task": "domains.tasks.domains_verify_sweep",
        "schedule": timedelta(minutes=1),
    },
    "domains-recheck": {
        "task": "domains.tasks.domains_recheck_sweep",
        "schedule": timedelta(minutes=15),
    },
    # CRM: workflow steps due (claimed once each; a dead worker's step is taken over after a
    # timeout) and emails to (re)send (a lost task, a retry whose wait is over, a dead sender).
    "crm-workflow-steps": {
        "task": "crm.tasks.work.crm_workflow_steps_sweep",
        "schedule": timedelta(minutes=1),
    },
    "crm-emails": {
        "task": "crm.tasks.work.crm_emails_sweep",
        "schedule": timedelta(minutes=1),
    },
    # Billing: wallet holds past their time released, gift cards due emailed (each claimed
    # under its row lock); expired credit and cards to breakage and expiry reminders (each
    # once: keyed by the lot or card, closed in the same transaction).
    "billing-wallet-holds-expire": {
        "task": "billing.tasks.wallets.wallet_holds_expire",
        "schedule": timedelta(minutes=1),
    },
    "billing-gift-card-deliveries": {
        "task": "billing.tasks.gift_cards.gift_card_deliveries_sweep",
        "schedule": timedelta(minutes=1),
    },
    "billing-wallet-credits-expire": {
        "task": "billing.tasks.wallets.wallet_credits_expire",
        "schedule": timedelta(hours=1),
    },
    "billing-wallet-expiry-reminders": {
        "task": "billing.tasks.wallets.wallet_expiry_reminders",
        "schedule": timedelta(hours=1),
    },
    "billing-gift-cards-expire": {
        "task": "billing.tasks.gift_cards.gift_cards_expire_sweep",
        "schedule": timedelta(hours=1),
    },
    # Billing: card payments and refunds left open (a dead worker, a lost answer, a missing
    # webhook) completed from the provider's state once each; webhook events not processed.
    "billing-payments-sweep": {
        "task": "billing.tasks.payments.payments_sweep",
        "schedule": timedelta(minutes=5),
    },
    # Billing: issued invoices whose PDF task was lost or failed drawn again (once stored, a
    # PDF is never redrawn).
    "billing-invoice-documents": {
        "task": "billing.tasks.documents.invoice_documents_sweep",
        "schedule": timedelta(minutes=15),
    },
    # Billing: invoice instalments. Autopay charges due (each queued as its own task, claimed
    # once per attempt; a dead worker's claim resumed with the same key); reminder emails and
    # late fees that came due (each once: unique per instalment and key or fee number).
    "billing-invoices-autopay": {
        "task": "billing.tasks.invoices.invoices_autopay_sweep",
        "schedule": timedelta(minutes=5),
    },
    "billing-invoices-reminders": {
        "task": "billing.tasks.invoices.invoices_reminders_sweep",
        "schedule": timedelta(minutes=15),
    },
    "billing-invoices-late-fees": {
        "task": "billing.tasks.invoices.invoices_late_fees_sweep",
        "schedule": timedelta(hours=1),
    },
    # Billing: every balance and transaction recomputed from the ledger's entries, at a quiet
    # hour (UTC); a drift is logged as an ERROR and recorded for the admin.
    "billing-ledger-check": {
        "task": "billing.tasks.ledger.ledger_check_nightly",
        "schedule": crontab(hour=3, minute=30),
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging, metrics, tracing (picpick.core.observability) ---------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "json": one JSON object a line (production's default); "plain": readable lines for a terminal.
# Both carry the request id, and both pass the redaction filter.
PICPICK_LOG_FORMAT = env_choice("PICPICK_LOG_FORMAT", "plain", {"plain", "json"})
LOGGING = {
    **logging_config(level=LOG_LEVEL, json=PICPICK_LOG_FORMAT == "json"),
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"level": "WARNING"},
        # The SDK logs a line per request (billing.payments logs failures with their context)
        # and, at debug, request and response bodies with client secrets: never those.
        "stripe": {"level": "WARNING"},
        # A line per rendering step of every PDF; its warnings (a refused fetch) still show.
        "weasyprint.progress": {"level": "WARNING"},
    },
}
# /metrics on a host that is not internal answers to "Authorization: Bearer <this>" only
# (empty: internal hosts only). 32+ random characters.
PICPICK_METRICS_TOKEN = env_str("PICPICK_METRICS_TOKEN", "")
if PICPICK_METRICS_TOKEN and len(PICPICK_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("PICPICK_METRICS_TOKEN must be at least 32 random characters.")
# A Celery worker serves its metrics (all its pool's processes added up) on this port; 0: off.
PICPICK_WORKER_METRICS_PORT = env_int("PICPICK_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
# OpenTelemetry tracing: on when an OTLP endpoint is given (or PICPICK_OTEL=1, for the
# exporter's default endpoint); off, nothing of it is even imported.
PICPICK_OTEL = env_bool("PICPICK_OTEL", bool(env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "")))
