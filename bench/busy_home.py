"""A busy home for the scale benchmark: ~400 entities, ~274,000 events a day (100 million a year).

bench/store_benchmark.py's home with each kind of entity at the rate a busy Home Assistant installation
reports it: whole-home power meters every 5 seconds, smart plugs' power every 30 s and their voltage and
current every minute, Zigbee link quality every 5 minutes, climate sensors every few minutes, motion in
bursts, lights and switches a dozen times a day; automation chains (motion -> automation -> lights) a few
hundred times a day and user actions likewise. Rates are events per entity per day; each day's events are
spread over the day by weight, so the mix holds for any number of events.
"""

from __future__ import annotations

import dataclasses
from itertools import accumulate

from bench.store_benchmark import AREAS, KINDS, Home, Kind, _id, cycle, walk

PER_DAY = {  # events a day per entity of each kind
    "temperature": 300, "humidity": 300, "illuminance": 600, "power": 2_880, "energy": 1_440, "battery": 8,
    "motion": 250, "door": 30, "window": 10, "light": 15, "switch": 12, "cover": 6, "media": 120, "climate": 150,
    "fan": 6, "lock": 4, "person": 20, "tracker": 60, "script": 4, "counter": 5, "input_boolean": 6,
    "voltage": 1_440, "current": 1_440, "linkquality": 288, "main_power": 17_280, "connectivity": 2,
    "weather": 24, "update": 1,
}
EXTRA_KINDS = {
    "voltage": Kind("sensor", "voltage", "V", 1, "230.1", walk(220, 240, 0.4, 1)),
    "current": Kind("sensor", "current", "A", 1, "0.35", walk(0, 16, 0.05, 2)),
    "linkquality": Kind("sensor", None, "lqi", 1, "120", walk(0, 255, 6, 0)),
    "main_power": Kind("sensor", "power", "W", 1, "850.0", walk(0, 12_000, 60, 1)),
    "connectivity": Kind("binary_sensor", "connectivity", None, 1, "on", KINDS["motion"].next_state),
    "weather": Kind("weather", None, None, 1, "cloudy", cycle("sunny", "cloudy", "rainy", "partlycloudy")),
    "update": Kind("update", "firmware", None, 1, "off", KINDS["motion"].next_state),
}


class BusyHome(Home):
    chain_p, user_p = 0.0015, 0.0015  # ~400 automation runs and ~400 user actions a day

    def __init__(self) -> None:
        KINDS.update(EXTRA_KINDS)
        super().__init__()
        for area in AREAS:
            for n, (kind, suffix) in enumerate((("voltage", "voltage"), ("current", "current"),
                                                ("linkquality", "linkquality_1"), ("linkquality", "linkquality_2"),
                                                ("power", "power_3"))):
                self._add(f"{area}_{suffix}", kind, area, _id("device", area, 10 + n // 2))
            self._add(f"{area}_hub_connectivity", "connectivity", area, _id("device", area, 20))
        for meter in ("phase_a", "phase_b", "phase_c", "total", "solar", "battery", "grid"):
            self._add(f"main_power_{meter}", "main_power", None, _id("device", "main_meter"))
        self._add("home", "weather", None, None)
        for n in range(12):
            self._add(f"firmware_{n}", "update", None, _id("device", "update", n))
        for entity in self.entities:  # each entity at its kind's own rate
            name = next(k for k, v in KINDS.items() if v == entity.kind)
            entity.kind = dataclasses.replace(entity.kind, weight=PER_DAY.get(name, 0))
        self.singles = [e for e in self.entities if e.kind.weight > 0]
        self.cumulative = list(accumulate(e.kind.weight for e in self.singles))
        self.controllable = [e for e in self.controllable if e in self.entities]
