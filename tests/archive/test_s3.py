"""The archive's S3 client (ingestor.archive.s3), against the real S3 servers of tests/support/s3servers.py."""

from __future__ import annotations

import gc

from botocore.regions import EndpointResolver

from ingestor.archive.s3 import Bucket
from tests.archive.conftest import settings_for
from tests.support.s3servers import S3Server


def _endpoint_tables() -> int:
    """Services listed in every live botocore endpoint table (endpoints.json: ~7 MB once decoded)."""
    gc.collect()
    return sum(len(partition.get("services", {})) for found in gc.get_objects() if isinstance(found, EndpointResolver)
               for partition in found._endpoint_data.get("partitions", []))


def test_a_bucket_keeps_no_table_of_aws_endpoints_and_still_reads_and_writes(s3server: S3Server,
                                                                             bucket_name: str) -> None:
    """An archive run holds its client for hours: botocore's table of every AWS service's endpoints, read only
    to create the client, must not stay in its memory (README, Performance: ~7 MB of the 200 MB bound)."""
    before = _endpoint_tables()  # boto3's default session, if a test used it, keeps its own
    bucket = Bucket(settings_for(s3server.endpoint, bucket_name, s3server))
    assert _endpoint_tables() == before
    bucket.ensure()
    bucket.put("a/b.json", b'{"x": 1}', "application/json")
    assert bucket.get("a/b.json") == b'{"x": 1}'
    assert bucket.head("a/missing") is None
