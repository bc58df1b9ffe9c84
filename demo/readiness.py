"""When the stack is ready for the driver: the bridge has subscribed to Home Assistant's events."""

from __future__ import annotations

import json
import urllib.request


def bridge_subscribed(health_url: str) -> bool:
    try:
        with urllib.request.urlopen(health_url, timeout=2) as r:
            return bool(json.loads(r.read()).get("subscribed"))
    except OSError:
        return False
