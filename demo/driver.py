"""Life in the sandbox home: changes states through HA's APIs with the long-lived token, on a believable schedule.

Motion comes and clears (the automations switch the lights), doors and windows open and close (the gate lights
the garden path, an open bedroom window turns its radiator off), temperatures and humidities drift, plugs
draw power. Every action also records what it must make HA fire (`expected`), from the home's rules and the
states the driver knows, so the end-to-end test can compare exact counts. `pump` is the benchmark's mode:
one sensor set at a fixed rate over a pipelined WebSocket.

    python -m demo.driver --ha-url http://127.0.0.1:8123 --token-file .data/demo/secrets/ha-token [--rate 100]
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import logging
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from demo import home

log = logging.getLogger(__name__)
# Measured on HA 2024.3.3: one automation run writes its entity twice (last_triggered and current: 1 when it
# starts, current: 0 when it ends): attribute-only state_changed events, the state stays "on".
AUTOMATION_WRITES_PER_RUN = 2


class HAClient:
    """HA's REST API over one keep-alive connection (a new TCP connection per call halves the rate)."""

    def __init__(self, url: str, token: str, timeout: float = 30) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 8123
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, None if body is None else json.dumps(body), self.headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
            return json.loads(raw) if raw else None
        raise AssertionError("unreachable")

    def call(self, domain: str, service: str, **data: Any) -> Any:
        return self.request("POST", f"/api/services/{domain}/{service}", data)

    def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in self.request("GET", "/api/states")}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@dataclass
class Expected:
    """What the driver's actions must make HA fire, per (event_type, entity_id), and call_service records in total."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    call_service: int = 0

    def state_changed(self, entity_id: str, times: int = 1) -> None:
        self.events[("state_changed", entity_id)] += times

    def service_call(self, *entity_ids: str) -> None:
        """A call_service event on these entities: stored as one record per entity (one record naming none when
        it names none)."""
        self.call_service += max(1, len(entity_ids))
        for entity_id in entity_ids:
            self.events[("call_service", entity_id)] += 1


class Driver:
    def __init__(self, client: HAClient, seed: int | None = None) -> None:
        self.client = client
        self.random = random.Random(seed)
        self.expected = Expected()
        states = client.states()
        self.states = {e: s["state"] for e, s in states.items()}
        self.targets = {e: float(s["attributes"].get("temperature") or 20) for e, s in states.items()
                        if e.startswith("climate.")}
        self._pending: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0

    # -- actions: each one call to HA, and what it causes ------------------------------------------

    def set_reading(self, entity_id: str, value: float) -> None:
        self.client.call("ingestor_demo", "set", entity_id=entity_id, value=value)
        self.expected.service_call(entity_id)
        if float(self.states.get(entity_id, "nan")) != value:
            self.expected.state_changed(entity_id)
        self.states[entity_id] = str(value)

    def set_contact(self, entity_id: str, on: bool) -> None:
        state = "on" if on else "off"
        self.client.call("ingestor_demo", "set", entity_id=entity_id, value=state)
        self.expected.service_call(entity_id)
        if self.states.get(entity_id) == state:
            return
        self.states[entity_id] = state
        self.expected.state_changed(entity_id)
        for rule in home.rules_for(entity_id, state):
            self.expected.events[("automation_triggered", rule.entity_id)] += 1
            self.expected.state_changed(rule.entity_id, AUTOMATION_WRITES_PER_RUN)
            self.expected.service_call(*rule.targets)
            for target in rule.targets:
                if self.states.get(target) != rule.target_state:
                    self.expected.state_changed(target)
                    self.states[target] = rule.target_state

    def switch(self, entity_id: str, on: bool) -> None:
        state = "on" if on else "off"
        self.client.call("switch", "turn_on" if on else "turn_off", entity_id=entity_id)
        self.expected.service_call(entity_id)
        if self.states.get(entity_id) != state:
            self.expected.state_changed(entity_id)
            self.states[entity_id] = state

    def set_target(self, entity_id: str, temperature: float) -> None:
        self.client.call("climate", "set_temperature", entity_id=entity_id, temperature=temperature)
        self.expected.service_call(entity_id)
        if self.targets.get(entity_id) != temperature:
            self.expected.state_changed(entity_id)  # an attribute change: the state (heat/off) stays
            self.targets[entity_id] = temperature

    # -- the schedule ------------------------------------------------------------------------------

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._pending, (time.monotonic() + delay, self._seq, action))

    def step(self) -> str:
        """One believable thing happening now (follow-ups such as 'motion clears' are scheduled)."""
        r = self.random
        kind = r.choices(["drift", "motion", "door", "window", "plug", "thermostat"], [10, 6, 3, 1, 2, 1])[0]
        if kind == "drift":
            entity = r.choice([e["entity_id"] for e in home.entities("sensor")
                               if e["device_class"] in ("temperature", "humidity")])
            current = float(self.states.get(entity, 20))
            delta = r.choice([-1, 1]) * r.choice([0.1, 0.2, 0.3]) * (3 if entity.endswith("humidity") else 1)
            self.set_reading(entity, round(current + delta, 1))
        elif kind == "motion":
            sensor = r.choice(["binary_sensor.hallway_motion", "binary_sensor.kitchen_motion",
                               "binary_sensor.office_motion", "binary_sensor.living_room_motion"])
            if self.states.get(sensor) != "on":
                self.set_contact(sensor, True)
                self.later(r.uniform(4, 15), lambda: self.set_contact(sensor, False))
        elif kind in ("door", "window"):
            contact = r.choice(["binary_sensor.front_door", "binary_sensor.garden_gate"] if kind == "door" else
                               ["binary_sensor.bedroom_window", "binary_sensor.kitchen_window"])
            if self.states.get(contact) != "on":
                self.set_contact(contact, True)
                self.later(r.uniform(3, 10) if kind == "door" else r.uniform(20, 60),
                           lambda: self.set_contact(contact, False))
        elif kind == "plug":
            plug, power, watts = r.choice([("switch.coffee_machine", "sensor.coffee_machine_power", 1350.0),
                                           ("switch.tv_plug", "sensor.tv_plug_power", 87.0),
                                           ("switch.monitor_plug", "sensor.monitor_plug_power", 32.0)])
            if self.states.get(plug) != "on":
                self.switch(plug, True)
                self.set_reading(power, round(watts * r.uniform(0.9, 1.1), 1))
                self.later(r.uniform(10, 40), lambda: (self.switch(plug, False), self.set_reading(power, 0.5)))
        else:
            thermostat = r.choice(["climate.living_room_thermostat", "climate.bedroom_radiator"])
            self.set_target(thermostat, r.choice([17.0, 18.0, 19.5, 20.0, 20.5, 21.0]))
        self.set_reading("sensor.grid_power", round(r.uniform(180, 2400), 1))  # the P1 meter reports every step
        return kind

    def run_due(self, everything: bool = False) -> None:
        """The scheduled follow-ups that are due (all of them with `everything`: the home comes to rest)."""
        while self._pending and (everything or self._pending[0][0] <= time.monotonic()):
            heapq.heappop(self._pending)[2]()

    def run(self, steps: int | None = None, interval: tuple[float, float] = (0.5, 2.5),
            stop: threading.Event | None = None) -> Expected:
        """`steps` believable steps (None: until `stop`), `interval` seconds apart; then everything settles."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set() and (steps is None or done < steps):
            self.run_due()
            self.step()
            done += 1
            stop.wait(self.random.uniform(*interval) if interval[1] > 0 else 0)
        self.run_due(everything=True)
        return self.expected


def pump(ws_url: str, token: str, entity_id: str, rate: float, duration: float, start_value: int,
         on_sent: Callable[[int, float], None] | None = None) -> tuple[int, float, list[str]]:
    """Set `entity_id` to start_value, +1, … at `rate` per second for `duration` seconds over one pipelined
    WebSocket (HA answers each call on its own; waiting for each answer caps the rate near 900/s).

    Returns (values sent, seconds the sending took, errors HA answered). `on_sent(value, wall time)` is called
    just before each send: the benchmark's start time of that change.
    """
    conn = websocket.create_connection(ws_url, timeout=30, enable_multithread=True)
    errors: list[str] = []
    try:
        if json.loads(conn.recv())["type"] != "auth_required":
            raise RuntimeError("unexpected HA greeting")
        conn.send(json.dumps({"type": "auth", "access_token": token}))
        if json.loads(conn.recv())["type"] != "auth_ok":
            raise RuntimeError("HA refused the token")
        count = max(1, int(rate * duration))
        answered = threading.Semaphore(0)

        def read() -> None:
            for _ in range(count):
                message = json.loads(conn.recv())
                for item in message if isinstance(message, list) else [message]:
                    if item.get("type") == "result" and not item.get("success"):
                        errors.append(str(item.get("error")))
                answered.release()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        started = time.monotonic()
        for i in range(count):
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            value = start_value + i
            if on_sent is not None:
                on_sent(value, time.time())
            conn.send(json.dumps({"id": i + 1, "type": "call_service", "domain": "ingestor_demo", "service": "set",
                                  "service_data": {"entity_id": entity_id, "value": value}}))
        sent_s = time.monotonic() - started
        reader.join(timeout=60)
        return count, sent_s, errors
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.driver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ha-url", required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=0, help="events/s on sensor.grid_power instead of the schedule")
    parser.add_argument("--duration", type=float, default=30, help="seconds, with --rate")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s driver %(message)s")
    token = args.token_file.read_text().strip()
    if args.rate > 0:
        ws_url = args.ha_url.replace("http", "ws", 1).rstrip("/") + "/api/websocket"
        count, took, errors = pump(ws_url, token, "sensor.grid_power", args.rate, args.duration, int(time.time()))
        print(json.dumps({"sent": count, "seconds": round(took, 2), "errors": len(errors)}))
        return 0
    driver = Driver(HAClient(args.ha_url, token), args.seed)
    stop = threading.Event()
    try:
        driver.run(stop=stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
