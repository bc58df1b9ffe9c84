"""The topic connector stops when told to, even when Python swallows the cancel of a fetch.

On Python 3.11, `asyncio.wait_for` returns the result of what it waits for when a cancel lands in the same turn of
the loop as that result, and the cancel is lost. nats-py's fetch waits on its inbox that way, and every idle fetch
ends with a message (the server's 408 when the request expires), so a stop that only cancels the fetch loop now and
then leaves it fetching for ever, and the runtime's stop hanging (seen as tests/pipeline/test_full_queue.py's
runtime not exiting within 30 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import web

from ha_connector.topics import TopicConnector
from ingestor import subjects
from localfaas.natsserver import NatsServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


async def gateway() -> tuple[web.AppRunner, str]:
    """A gateway listing one function on the raw topic (it is never called: nothing is published)."""
    async def listing(_: web.Request) -> web.Response:
        return web.json_response([{"name": "sink", "annotations": {"topic": subjects.RAW}}])

    app = web.Application()
    app.router.add_get("/system/functions", listing)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def test_wait_for_on_this_python_loses_a_cancel_that_lands_with_its_result() -> None:
    """Why the flag below exists: if this ever passes the other way, the Python in use no longer loses cancels."""
    async def waiting(queue: asyncio.Queue[int]) -> None:
        while True:
            try:
                await asyncio.wait_for(queue.get(), 1)
            except TimeoutError:
                continue

    async def scenario() -> bool:
        queue: asyncio.Queue[int] = asyncio.Queue()
        task = asyncio.create_task(waiting(queue))
        await asyncio.sleep(0.05)
        queue.put_nowait(1)
        task.cancel()
        await asyncio.sleep(0.05)
        lost = not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return lost

    assert asyncio.run(scenario())


def test_a_subscription_told_to_stop_ends_its_fetch_loop_without_a_cancel(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        runner, url = await gateway()
        connector = TopicConnector(nats_server.url, url)
        try:
            await connector.start()
            (sub,) = connector.subscriptions.values()
            await asyncio.sleep(1.5)  # a fetch or two have expired: the loop is idling on fetches
            sub.stopping = True  # what stop() sets beside its cancel, here as if the cancel were lost
            assert sub.task is not None
            await asyncio.wait_for(asyncio.shield(sub.task), 3)  # one fetch's timeout, and the check after it
        finally:
            await connector.stop()
            await runner.cleanup()

    asyncio.run(scenario())


def test_the_connector_stops_with_its_subscriptions_done(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        runner, url = await gateway()
        connector = TopicConnector(nats_server.url, url)
        try:
            await connector.start()
            tasks = [s.task for s in connector.subscriptions.values()]
            assert tasks
        finally:
            await asyncio.wait_for(connector.stop(), 5)
            await runner.cleanup()
        assert all(t is not None and t.done() for t in tasks)

    asyncio.run(scenario())
