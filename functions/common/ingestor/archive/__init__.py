"""retention-archive: verified day archives in S3, hourly/daily summaries, pruning and restore.

Modules, one job each: settings (configuration), s3 (the boto3 client and object calls), layout (object
keys), dayfile (a day as gzip NDJSON + its manifest), verify (HEAD + re-download + checksums + rows),
summaries (hourly/daily aggregates from records), run (plan and the archive run), restore, status.
"""

from ingestor.archive.errors import ArchiveError

__all__ = ["ArchiveError"]
