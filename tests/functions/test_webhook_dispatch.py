"""webhook-dispatch's handler: the sweeper starts with the process; a batch is answered with what was sent."""

from __future__ import annotations

from pathlib import Path

from tests.functions.pipeline import batch
from tests.support.function import invoke, load_handler
from tests.webhooks.events import ha_record


def test_the_retry_sweeper_runs_from_the_start_before_any_batch(process: Path) -> None:
    health = load_handler("webhook-dispatch").health()
    assert health["status"] == "ok" and health["sweeper_alive"] is True


def test_a_batch_nothing_subscribes_to_is_acknowledged_with_nothing_sent(process: Path) -> None:
    batch_id, body = batch([ha_record("light.kitchen"), ha_record("switch.fan")], prefix="enriched")
    status, answer = invoke(load_handler("webhook-dispatch"), body=body)
    assert status == 200 and (answer["batch_id"], answer["events"], answer["matched"]) == (batch_id, 2, 0)
