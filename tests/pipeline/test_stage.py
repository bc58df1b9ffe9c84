"""ingestor.stage: a declared stage checks each event, hands on what passes, dead-letters the rest and says so,
against a real nats-server."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ingestor import bus, envelope, jsoncodec, subjects
from ingestor.errors import Invalid, Refused
from ingestor.stage import Stage
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        client = JetStreamClient(server.url)
        client.ensure_stream()
        client.close()
        yield server.url


@pytest.fixture()
def stream(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JetStreamClient]:
    monkeypatch.setenv("NATS_URL", nats_url)
    monkeypatch.setattr(bus, "_default", None)
    client = JetStreamClient(nats_url)
    yield client
    client.close()
    bus.default().close()


def request(batch_id: str, events: list[Any], subject: str | None = None) -> SimpleNamespace:
    headers = {"X-Nats-Subject": subject} if subject else {}
    return SimpleNamespace(body=envelope.encode(batch_id, events), headers=headers, method="POST", path="/", query={})


def positive(event: Any) -> Any:
    if not isinstance(event, int) or event <= 0:
        raise Invalid(f"{event!r} is not a positive number")
    return event * 10


class Sink:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[Any]]] = []

    def __call__(self, batch_id: str, events: list[Any]) -> None:
        self.batches.append((batch_id, events))


def answer(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["statusCode"] == 200
    return jsoncodec.loads(reply["body"])


def dead_letters(client: JetStreamClient, dlq_id: str) -> list[dict[str, Any]]:
    return [jsoncodec.loads(m.data) for m in client.stored(subjects.DLQ) if m.msg_id == dlq_id]


def test_what_passes_is_delivered_under_the_derived_batch_id(stream: JetStreamClient) -> None:
    sink = Sink()
    reply = Stage("double", subjects.VALID, positive, deliver=sink).handle(request("b1:validate", [1, 2]))
    assert sink.batches == [("b1:double", [10, 20])]
    assert answer(reply) == {"batch_id": "b1:double", "accepted": 2, "rejected": 0, "rejections": []}


def test_a_stage_with_a_target_publishes_there_idempotently(stream: JetStreamClient) -> None:
    stage = Stage("tenfold", subjects.RAW, positive, target=subjects.NORMALIZED)
    stage.handle(request("b2", [3]))
    stage.handle(request("b2", [3]))  # redelivered: the same id, dropped by JetStream
    published = [m for m in stream.stored(subjects.NORMALIZED) if m.msg_id == "b2:tenfold"]
    assert len(published) == 1 and jsoncodec.loads(published[0].data)["events"] == [30]


def test_rejected_events_are_dead_lettered_with_their_index_reason_and_payload(stream: JetStreamClient) -> None:
    sink = Sink()
    reply = Stage("double", subjects.VALID, positive, deliver=sink).handle(
        request("b3", [1, -1, "x"], subject=subjects.RAW))
    assert sink.batches == [("b3:double", [10])]
    assert answer(reply)["rejections"] == [{"index": 1, "reason": "-1 is not a positive number"},
                                           {"index": 2, "reason": "'x' is not a positive number"}]
    (letter,) = dead_letters(stream, subjects.stage_dlq_id("b3:double"))
    assert (letter["stage"], letter["subject"]) == ("double", subjects.RAW)  # the subject the connector named
    assert [(e["index"], e["payload"]) for e in letter["entries"]] == [(1, -1), (2, "x")]


def test_a_batch_of_which_nothing_passes_is_refused_with_every_reason_and_nothing_is_delivered(
        stream: JetStreamClient) -> None:
    sink = Sink()
    with pytest.raises(Refused) as caught:
        Stage("double", subjects.VALID, positive, deliver=sink).handle(request("b4", [0, -2]))
    assert caught.value.code == "no_valid_event" and len(caught.value.details) == 2
    assert sink.batches == [] and dead_letters(stream, subjects.stage_dlq_id("b4:double")) == []


def test_an_event_nested_past_the_limit_is_rejected_before_the_check_sees_it(stream: JetStreamClient) -> None:
    seen: list[Any] = []
    stage = Stage("deep", subjects.VALID, lambda e: seen.append(e) or e, deliver=Sink(), max_depth=3)
    reply = stage.handle(request("b5", [[[[[1]]]], [[1]]]))  # four levels, then two
    assert seen == [[[1]]]
    assert answer(reply)["rejections"] == [{"index": 0, "reason": "event: nested deeper than 3 levels"}]


def test_amend_sees_what_passed_once_per_batch(stream: JetStreamClient) -> None:
    calls: list[list[Any]] = []

    def amend(events: list[Any]) -> list[Any]:
        calls.append(list(events))
        return [e + 1 for e in events]

    sink = Sink()
    Stage("double", subjects.VALID, positive, deliver=sink, amend=amend).handle(request("b6", [1, -1, 2]))
    assert calls == [[10, 20]] and sink.batches == [("b6:double", [11, 21])]


def test_a_stage_names_exactly_one_place_for_what_passes() -> None:
    with pytest.raises(ValueError, match="one of them"):
        Stage("nowhere", subjects.VALID, positive)
    with pytest.raises(ValueError, match="one of them"):
        Stage("twice", subjects.VALID, positive, target=subjects.VALID, deliver=Sink())
    with pytest.raises(ValueError, match="one of them"):
        Stage("twice", subjects.VALID, positive, deliver=Sink(), deliver_all=lambda batches: None)


def coalesced_request(*batches: tuple[str, list[Any]]) -> SimpleNamespace:
    body = envelope.coalesce([envelope.encode(batch_id, events) for batch_id, events in batches])
    return SimpleNamespace(body=body, headers={envelope.COALESCED_HEADER: str(len(batches))}, method="POST",
                           path="/", query={})


def test_each_batch_of_a_coalesced_call_is_published_alone_under_its_own_derived_id(stream: JetStreamClient) -> None:
    stage = Stage("tenfold", subjects.RAW, positive, target=subjects.NORMALIZED)
    reply = stage.handle(coalesced_request(("c1", [1, 2]), ("c2", [0, 3])))
    published = {m.msg_id: jsoncodec.loads(m.data)["events"] for m in stream.stored(subjects.NORMALIZED)
                 if m.msg_id in ("c1:tenfold", "c2:tenfold")}
    assert published == {"c1:tenfold": [10, 20], "c2:tenfold": [30]}
    assert len(dead_letters(stream, subjects.stage_dlq_id("c2:tenfold"))) == 1
    assert dead_letters(stream, subjects.stage_dlq_id("c1:tenfold")) == []
    assert answer(reply) == {"batches": [
        {"batch_id": "c1:tenfold", "accepted": 2, "rejected": 0, "rejections": []},
        {"batch_id": "c2:tenfold", "accepted": 1, "rejected": 1,
         "rejections": [{"index": 0, "reason": "0 is not a positive number"}]}]}


def test_a_coalesced_call_fails_whole_when_one_of_its_batches_is_refused(stream: JetStreamClient) -> None:
    sink = Sink()
    with pytest.raises(Refused):
        Stage("double", subjects.VALID, positive, deliver=sink).handle(coalesced_request(("d1", [1]), ("d2", [0])))
    assert sink.batches == [("d1:double", [10])]  # handled again, under the same id, when called alone


class AllSink:
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, list[Any]]]] = []

    def __call__(self, batches: list[tuple[str, list[Any]]]) -> None:
        self.calls.append(batches)


def test_deliver_all_takes_every_batch_of_a_coalesced_call_in_one_hand_off(stream: JetStreamClient) -> None:
    sink = AllSink()
    reply = Stage("double", subjects.VALID, positive, deliver_all=sink).handle(
        coalesced_request(("e1", [1, 2]), ("e2", [-1, 3])))
    assert sink.calls == [[("e1:double", [10, 20]), ("e2:double", [30])]]
    assert [b["accepted"] for b in answer(reply)["batches"]] == [2, 1]
    assert len(dead_letters(stream, subjects.stage_dlq_id("e2:double"))) == 1


def test_deliver_all_takes_a_lone_batch_as_a_call_of_one(stream: JetStreamClient) -> None:
    sink = AllSink()
    Stage("double", subjects.VALID, positive, deliver_all=sink).handle(request("e3", [4]))
    assert sink.calls == [[("e3:double", [40])]]


def test_deliver_all_delivers_nothing_of_a_coalesced_call_one_of_whose_batches_is_refused(
        stream: JetStreamClient) -> None:
    sink = AllSink()
    with pytest.raises(Refused):
        Stage("double", subjects.VALID, positive, deliver_all=sink).handle(coalesced_request(("e4", [1]), ("e5", [0])))
    assert sink.calls == []  # called again message by message, each delivered (or refused) alone
