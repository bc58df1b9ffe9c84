"""`python -m demo` (`make demo`): a sandbox home in a real Home Assistant, the whole local stack against it, and a
driver that lives in it. Prints the dashboard and HA URLs; Ctrl-C stops everything.

State lives in .data/demo (HA's config dir, the runtime's JetStream and stores, the token as the `ha-token`
secret), so a second run continues the same home and history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
# as `make` sets PYTHONPATH, so `.venv/bin/python -m demo` works alone too
sys.path[:0] = [str(_ROOT / p) for p in ("functions/common", "infra/connector", "infra/local", "gateway-bridge")
                if str(_ROOT / p) not in sys.path]

from demo import home  # noqa: E402
from demo.driver import Driver, HAClient  # noqa: E402
from demo.readiness import bridge_subscribed  # noqa: E402
from demo.weather import OfflineWeather  # noqa: E402
from tests.support.homeassistant import HomeAssistant, ensure_venv  # noqa: E402
from tests.support.runtime import REPO, LocalRuntime  # noqa: E402

PASSWORD = "test-password-1"  # tests/support/homeassistant.py's onboarding user "owner"


def say(message: str) -> None:
    print(f"[demo +{time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


STARTED = time.monotonic()


def start_home_assistant(workdir: Path) -> HomeAssistant:
    """HA on a free port; the token of an earlier run is reused, else (or if HA refuses it) a fresh home."""
    config_dir, token_file = workdir / "homeassistant", workdir / "secrets" / "ha-token"
    ha = HomeAssistant(config_dir, write_config=home.write_config)
    if token_file.is_file() and (config_dir / ".storage" / "onboarding").is_file():
        ha.token = token_file.read_text().strip()
        try:
            return ha.start()
        except RuntimeError as exc:
            say(f"the previous sandbox did not start again ({str(exc)[:120]}…): starting a fresh one")
            ha.stop()
            shutil.rmtree(config_dir)
            ha = HomeAssistant(config_dir, write_config=home.write_config)
    ha.start()
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(ha.token or "")
    token_file.chmod(0o600)
    return ha



def queryable_events(gateway: str, since: dt.datetime) -> int:
    """Events of this run the query API answers with."""
    query = urllib.parse.urlencode({"limit": 10, "start": since.isoformat()})
    try:
        with urllib.request.urlopen(f"{gateway}/function/query/events?{query}", timeout=5) as r:
            return len(json.loads(r.read()).get("items", []))
    except (OSError, ValueError):
        return 0


def live(driver: Driver, stop: threading.Event) -> None:
    """The driver's schedule until `stop`; a failure (HA gone) is said, not buried in a thread's traceback."""
    try:
        driver.run(stop=stop)
    except (OSError, RuntimeError) as exc:
        if not stop.is_set():
            say(f"the driver stopped: {exc}")


def first_automation_run(gateway: str, since: dt.datetime) -> str | None:
    """The context id of this run's first automation run: the dashboard's trace view opens on it."""
    query = urllib.parse.urlencode({"limit": 1, "start": since.isoformat(), "event_type": "automation_triggered"})
    try:
        with urllib.request.urlopen(f"{gateway}/function/query/events?{query}", timeout=5) as r:
            items = json.loads(r.read()).get("items", [])
    except (OSError, ValueError):
        return None
    return items[0]["context"]["id"] if items else None


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "demo")
    parser.add_argument("--stack", type=Path, default=REPO / "stack.yml")
    parser.add_argument("--fresh", action="store_true", help="forget the previous sandbox home and its history")
    parser.add_argument("--seed", type=int, default=None, help="the driver's random seed")
    args = parser.parse_args(argv)
    workdir: Path = args.data_dir.resolve()
    if args.fresh:
        shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "secrets").mkdir(parents=True, exist_ok=True)
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start us with it ignored
        signal.signal(signum, interrupt)

    _, install_s = ensure_venv()
    say(f"Home Assistant {'installed' if install_s > 5 else 'ready'} in .venv-ha ({install_s:.0f}s)")
    ha: HomeAssistant | None = None
    runtime: LocalRuntime | None = None
    weather = OfflineWeather()  # no Internet here: context-poll fetches the demo's own (made-up) weather
    stop = threading.Event()
    driver_thread: threading.Thread | None = None
    try:
        ha = start_home_assistant(workdir)
        say(f"Home Assistant is running at {ha.url} (log in as owner / {PASSWORD}); "
            f"{len(home.DEVICES)} devices in {len(home.AREAS)} areas, {len(home.RULES)} automations")
        runtime = LocalRuntime(workdir, stack=args.stack.resolve(), env={"HA_URL": ha.url, **weather.env()}
                               ).start(timeout=180)
        say(f"local stack ready: gateway {runtime.gateway}, NATS {runtime.nats_url} (log: {runtime.log})")
        wait(lambda: bridge_subscribed(runtime.ready["bridge"]), 60, "the bridge subscribing to HA")
        driver = Driver(HAClient(ha.url, ha.token or ""), args.seed)
        since = dt.datetime.now(dt.UTC)
        # a first scene at once, so a newcomer has an automation trace to open: motion in the hallway, the door
        driver.set_contact("binary_sensor.hallway_motion", True)
        driver.set_contact("binary_sensor.front_door", True)
        driver.later(4, lambda: driver.set_contact("binary_sensor.front_door", False))
        driver.later(12, lambda: driver.set_contact("binary_sensor.hallway_motion", False))
        driver_thread = threading.Thread(target=live, args=(driver, stop), daemon=True)
        driver_thread.start()
        wait(lambda: queryable_events(runtime.gateway, since) > 0, 120, "the first events in the store")
        say("first events are queryable")
        app = f"{runtime.gateway}/function/dashboard/"
        deadline = time.monotonic() + 15
        while (run := first_automation_run(runtime.gateway, since)) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"\n  Dashboard:        {runtime.gateway}/\n  Live events:      {app}#/events\n"
              + (f"  Automation trace: {app}#/trace/{run}\n" if run else "")
              + f"  Home Assistant:   {ha.url}  (owner / {PASSWORD})\n"
              f"  Query API:        {runtime.gateway}/function/query/events\n"
              f"  API keys:         {workdir / 'secrets'}/webhooks-api-key, alerts-api-key (to change data)\n\n"
              "  Ctrl-C stops everything.\n",
              flush=True)
        while runtime.proc is not None and runtime.proc.poll() is None and ha.proc and ha.proc.poll() is None:
            time.sleep(0.5)
        say("the local stack or Home Assistant exited; stopping (see their logs in " + str(workdir) + ")")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except RuntimeError as exc:
        say(f"failed: {exc}")
        return 1
    finally:
        stop.set()
        if driver_thread is not None:
            driver_thread.join(timeout=10)
        if runtime is not None:
            runtime.stop()
        if ha is not None:
            ha.stop()
        weather.close()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
