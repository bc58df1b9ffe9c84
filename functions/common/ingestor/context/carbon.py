"""Carbon intensity of Great Britain's electricity from the National Grid ESO API (gCO2/kWh).

National by default (/intensity); regional for a postcode's outward code (/regional/postcode/RG10).
"""

from __future__ import annotations

from typing import Any

from ingestor.context.model import Location, Metric, Request, SourceError, number


class CarbonIntensity:
    key = "carbon_intensity"
    provider = "carbonintensity.org.uk"
    metrics = (Metric("intensity", "gram_co2_per_kilowatt_hour", "Grid carbon intensity"),)

    def __init__(self, base_url: str = "https://api.carbonintensity.org.uk", refresh_s: float = 1800) -> None:
        self.base_url = base_url.rstrip("/")
        self.refresh_s = refresh_s

    def request(self, location: Location) -> Request:
        path = f"/regional/postcode/{location.postcode}" if location.postcode else "/intensity"
        return Request(f"{self.base_url}{path}", headers={"Accept": "application/json"})

    def parse(self, doc: Any) -> dict[str, Any]:
        try:
            period = doc["data"][0]
            if "regionid" in period:  # regional answers nest the periods one level deeper
                period = period["data"][0]
            intensity = period["intensity"]
        except (KeyError, IndexError, TypeError):
            raise SourceError("missing data.0.intensity") from None
        actual = intensity.get("actual")
        value = float(actual) if isinstance(actual, int | float) else number(intensity, "forecast")
        index = intensity.get("index")
        return {"intensity": value, "index": index if isinstance(index, str) else None,
                "period_from": period.get("from"), "period_to": period.get("to")}
