"""Presigning against an S3 API: the cost of a batch of upload URLs and of a page of photos.

The S3 backend points at a moto server on loopback (signing is local; no request is sent while
presigning, the server only makes the setup real). Measured, as medians over several runs:

- ``presign_put`` for a batch of 500 files (the desktop uploader's batch);
- ``presign_parts`` for 500 parts of one multipart upload;
- ``presign_get_many`` for a page of 100 photos, with SigV4 and with CloudFront signing
  (a generated 2048-bit test key; one wildcard signature per page, see ``CloudFrontSigner``);

For reference (not reported, measured on the 2-core development machine): botocore's own
``generate_presigned_url`` takes ~160-230 ms for the same 500 PUTs, the reason
``picpick.core.storage.sigv4`` exists; CloudFront canned signatures one URL at a time take
~85 ms for a page of 100 (one RSA signature each), the reason pages share one wildcard policy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bench import Result

RUNS = 15
BATCH = 500
PAGE = 100
TARGET_MS = 50.0


def _median_ms(action: Callable[[], object]) -> float:
    action()  # warm-up: imports, signing-key cache, first allocations
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run() -> list[Result]:
    from bench.django_env import setup

    setup()
    import logging

    import boto3
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from picpick.core.storage import sha256_base64
    from picpick.core.storage.s3 import CloudFrontSigner, S3Storage

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        session = boto3.session.Session(
            aws_access_key_id="AKIABENCHMARK0000001",
            aws_secret_access_key="bench-secret-not-a-real-one",
            region_name="eu-west-1",
        )
        storage = S3Storage(
            bucket="picpick-bench",
            region="eu-west-1",
            endpoint_url=f"http://{host}:{port}",
            addressing_style="path",
            session=session,
        )
        storage.client.create_bucket(
            Bucket="picpick-bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        upload_id = storage.create_multipart(
            key="studios/s1/originals/big.NEF", content_type="image/x-nikon-nef"
        )
        files = [f"studios/s1/originals/{n:05d}.NEF" for n in range(BATCH)]
        # Every upload declares its SHA-256, and its PUT URL is signed with it.
        checksums = [sha256_base64(key.encode()) for key in files]
        page = [f"studios/s1/galleries/g1/web/{n:05d}.jpg" for n in range(PAGE)]

        def puts() -> None:
            for key, checksum in zip(files, checksums, strict=True):
                storage.presign_put(
                    key=key,
                    content_type="image/x-nikon-nef",
                    content_length=52_428_800,
                    checksum_sha256=checksum,
                    expires_in=3600,
                )

        def parts() -> None:
            storage.presign_parts(
                key="studios/s1/originals/big.NEF",
                upload_id=upload_id,
                part_numbers=list(range(1, BATCH + 1)),
                expires_in=3600,
            )

        def gets() -> None:
            storage.presign_get_many(keys=page, expires_in=3600)

        results = [
            Result.at_most("presign_put x500 (SigV4)", _median_ms(puts), "ms", TARGET_MS),
            Result.at_most("presign_parts x500 (SigV4)", _median_ms(parts), "ms", TARGET_MS),
            Result.at_most("presign_get_many x100 (SigV4)", _median_ms(gets), "ms", TARGET_MS),
        ]
        pem = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )
        storage.cloudfront = CloudFrontSigner(
            domain="cdn.bench.example", key_id="KBENCH", private_key_pem=pem, min_depth=3
        )

        def cloudfront_page_uncached() -> None:
            storage.cloudfront._cache.clear()  # every page pays its RSA signature
            storage.presign_get_many(keys=page, expires_in=3600)

        results += [
            Result.at_most(
                "presign_get_many x100 (CloudFront, wildcard policy)",
                _median_ms(cloudfront_page_uncached),
                "ms",
                TARGET_MS,
            ),
            Result.at_most(
                "presign_get_many x100 (CloudFront, cached signature)",
                _median_ms(gets),
                "ms",
                TARGET_MS,
            ),
        ]
        return results
    finally:
        server.stop()
