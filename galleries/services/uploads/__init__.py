"""The upload protocol: start a batch, hand out presigned URLs, verify, complete, abort, sweep.

Bytes never pass through this process. ``upload_batch_start`` registers one pending photo and
one ``Upload`` per accepted file and answers presigned requests (a single ``PUT``, or S3
multipart for large files); the client sends the bytes straight to storage and asks
``uploads_complete`` to verify them (size, SHA-256 where storage records it, magic bytes), which
marks the photo ``uploaded`` and queues its processing after the commit.

Storage is not transactional, so each write orders its storage calls so that a failure leaves
nothing the sweeper cannot find:

- start creates multipart uploads *before* the commit and aborts them if the transaction
  fails (a crash in between leaves an orphan that ``uploads_sweep`` aborts after N days);
- abort and expiry commit the database first, then abort/delete in storage (best effort; the
  orphan pass catches a multipart upload left behind);
- complete verifies storage first, then claims the row; a row claimed meanwhile by someone
  else (a second complete, the sweeper) is reported as it now is.

Locks: studio usage (quota, byte counters) -> gallery -> albums, as everywhere
(``galleries.lock_objects``); upload rows are locked only after the gallery, so every writer of
an upload's state (start, complete, abort, sweep) is serialised by the gallery lock. These
functions talk to storage after their own commit: call them outside any transaction.

The package splits the protocol by step: ``start``, ``resume``, ``complete``, ``cleanup``;
``common`` holds what they share.
"""

from galleries.services.uploads.cleanup import (
    upload_abort,
    uploads_sweep,
)
from galleries.services.uploads.common import (
    FIRST_PART_URLS,
    MAX_FILES_PER_BATCH,
    MAX_PART_URLS_PER_REQUEST,
    ORPHAN_PREFIX,
    ORPHANS_MAX_PER_RUN,
    STORAGE_THREADS,
    SWEEP_BATCH,
    SWEEP_MAX_PER_RUN,
    BatchStart,
    CompleteOutcome,
    FileDeclaration,
    PartUrl,
    Rejection,
    StartedFile,
    SweepResult,
    upload_is_multipart,
    upload_part_urls_for,
    upload_put_url,
)
from galleries.services.uploads.complete import (
    PartsSpec,
    upload_complete,
    uploads_complete,
)
from galleries.services.uploads.resume import (
    upload_is_resumable,
    upload_part_urls,
    upload_renew,
    upload_resumable_check,
    upload_resume_urls,
)
from galleries.services.uploads.start import (
    studio_quota_bytes,
    upload_batch_start,
    upload_plan,
)

__all__ = [
    "FIRST_PART_URLS",
    "MAX_FILES_PER_BATCH",
    "MAX_PART_URLS_PER_REQUEST",
    "ORPHANS_MAX_PER_RUN",
    "ORPHAN_PREFIX",
    "STORAGE_THREADS",
    "SWEEP_BATCH",
    "SWEEP_MAX_PER_RUN",
    "BatchStart",
    "CompleteOutcome",
    "FileDeclaration",
    "PartUrl",
    "PartsSpec",
    "Rejection",
    "StartedFile",
    "SweepResult",
    "studio_quota_bytes",
    "upload_abort",
    "upload_batch_start",
    "upload_complete",
    "upload_is_multipart",
    "upload_is_resumable",
    "upload_part_urls",
    "upload_part_urls_for",
    "upload_plan",
    "upload_put_url",
    "upload_renew",
    "upload_resumable_check",
    "upload_resume_urls",
    "uploads_complete",
    "uploads_sweep",
]
