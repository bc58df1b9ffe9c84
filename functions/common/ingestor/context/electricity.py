"""Electricity price from Octopus Energy's public tariff API (Agile: a price per half hour).

The product and tariff codes are configuration, e.g. AGILE-24-10-01 and E-1R-AGILE-24-10-01-C
(the last letter is the region). The current price is the unit rate valid now, in p/kWh incl. VAT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ingestor.context.model import Location, Metric, Request, SourceError, number
from ingestor.timeutil import parse_timestamp


class OctopusAgile:
    key = "electricity_price"
    provider = "octopus-energy"
    metrics = (Metric("price", "pence_per_kilowatt_hour", "Electricity price"),)

    def __init__(self, product: str, tariff: str, base_url: str = "https://api.octopus.energy", refresh_s: float = 1800,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.product = product
        self.tariff = tariff
        self.base_url = base_url.rstrip("/")
        self.refresh_s = refresh_s
        self.clock = clock

    def request(self, location: Location) -> Request:
        now = self.clock()
        return Request(
            f"{self.base_url}/v1/products/{self.product}/electricity-tariffs/{self.tariff}/standard-unit-rates/",
            {"period_from": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "period_to": (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")})

    def parse(self, doc: Any) -> dict[str, Any]:
        now = self.clock()
        results = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(results, list):
            raise SourceError("missing results")
        for rate in results:
            try:
                start, end = parse_timestamp(rate["valid_from"]), rate.get("valid_to")
                if start <= now and (end is None or now < parse_timestamp(end)):
                    return {"price": number(rate, "value_inc_vat"), "price_exc_vat": number(rate, "value_exc_vat"),
                            "valid_from": rate["valid_from"], "valid_to": end}
            except (KeyError, TypeError, ValueError):
                raise SourceError("a unit rate lacks valid_from/valid_to/value_inc_vat") from None
        raise SourceError("no unit rate is valid now")
