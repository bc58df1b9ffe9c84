"""retention-archive: verified day archives in S3, hourly/daily summaries, pruning, restore and recovery.

Modules, one job each: settings (configuration, checked once), s3 (the boto3 client and object calls),
layout (object keys), digest (a day's content checksum), ndjson and parquet (the two formats), dayfile
(a day staged on disk, and its manifest), verify (the stored bytes against the manifest), summaries
(hourly/daily aggregates), run (plan and the archive run), restore, recover (the quarantine's actions),
quarantine (days that failed), lease (one job at a time, across replicas), progress, status, and jobs
(what the function and the CLI call).
"""

from ingestor.archive.errors import ArchiveError

__all__ = ["ArchiveError"]
