"""metadata-sync's handler: ha.registry parts into the metadata DB; a part it cannot store is refused by name."""

from __future__ import annotations

from pathlib import Path

from ingestor import metadata
from tests.functions.pipeline import batch
from tests.metadata.test_metadata import snapshot
from tests.support.function import invoke, load_handler


def test_a_snapshot_is_applied_and_health_counts_what_the_home_has(process: Path) -> None:
    handler = load_handler("metadata-sync")
    _, body = batch(snapshot("s1"), prefix="registry")
    status, answer = invoke(handler, body=body)
    assert status == 200 and answer["accepted"] == 5
    assert metadata.shared().health()["entities"] > 0 and handler.health()["status"] == "ok"


def test_a_part_of_an_unknown_type_is_refused_naming_the_field(process: Path) -> None:
    _, body = batch([{**snapshot("s2")[0], "type": "garages"}], prefix="registry")
    status, answer = invoke(load_handler("metadata-sync"), body=body)
    assert status == 422 and answer["error"]["details"][0]["reason"].startswith("type: expected one of")
