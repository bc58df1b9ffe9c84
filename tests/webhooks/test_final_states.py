"""Every delivery ends in a final state its log says (delivered, dead_lettered, skipped with the reason), and
the delivery metrics are the log's own counts: in process against real receivers and a real nats-server."""

from __future__ import annotations

from collections import Counter

from prometheus_client import REGISTRY

from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import OUTCOMES, WebhookStore
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import receiving
from tests.webhooks.sweeping import SETTLE_S, sweep_until

SECRET = "final-states-secret-00001"
FINAL = {"delivered", "dead_lettered", "skipped"}


def counted() -> Counter[str]:
    return Counter({o: REGISTRY.get_sample_value("ha_ingestor_webhook_deliveries_total", {"outcome": o}) or 0
                    for o in OUTCOMES})


def test_every_delivery_ends_in_a_final_state_and_the_metrics_equal_the_log(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    before = counted()
    with receiving(SECRET) as ok, receiving(SECRET, default=404) as gone, receiving(SECRET, default=502) as broken, \
            receiving(SECRET, default=503) as switched_off:
        hooks = {name: store.create(name, rx.url, SECRET, {"event_types": ["*"]}, True)
                 for name, rx in (("ok", ok), ("gone", gone), ("broken", broken), ("off", switched_off))}
        dispatcher.dispatch([ha_record(f"light.l{i}") for i in range(5)])
        store.update(hooks["off"].id, {"enabled": False})  # with its 5 retries pending
        states = lambda: {name: store.deliveries_by_state(h.id) for name, h in hooks.items()}  # noqa: E731
        assert sweep_until(dispatcher, lambda: all(set(s) <= FINAL for s in states().values()), SETTLE_S), states()
        assert states() == {"ok": {"delivered": 5}, "gone": {"dead_lettered": 5}, "broken": {"dead_lettered": 5},
                            "off": {"skipped": 5}}
        log = {name: store.attempts(h.id, 1000, None) for name, h in hooks.items()}
        for name, entries in log.items():
            last = {}
            for entry in reversed(entries):  # oldest first: the last one seen per delivery is its newest
                last[entry["delivery_id"]] = entry
            assert len(last) == 5 and {e["outcome"] for e in last.values()} <= FINAL, name
        assert {e["error"] for e in log["off"] if e["outcome"] == "skipped"} == {"webhook disabled"}
        assert Counter(e["outcome"] for e in log["broken"]) == {"retrying": 15, "dead_lettered": 5}
        in_log = Counter(e["outcome"] for entries in log.values() for e in entries)
        assert counted() - before == in_log
