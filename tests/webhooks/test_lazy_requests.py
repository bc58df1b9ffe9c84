"""webhook-dispatch loads requests (10 MB of its process) with its first delivery attempt: in a home without
webhooks, its warm process never carries it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.runtime import pythonpath

DISPATCH_WITHOUT_WEBHOOKS = """
import json, sys, time
from types import SimpleNamespace
from ingestor import envelope
from ingestor.webhooks import dispatch_api
from tests.webhooks.events import ha_record

dispatch_api.start()  # as the template does: the sweeper runs from now on
reply = dispatch_api.handle(SimpleNamespace(body=envelope.encode("b1", [ha_record("light.a")]), headers={}))
time.sleep(0.5)  # a few sweeper rounds (WEBHOOK_SWEEP_S=0.1)
print(json.dumps({"status": reply["statusCode"], "sweeper_alive": dispatch_api.dispatcher().sweeper_alive(),
                  "requests": "requests" in sys.modules}))
"""


def test_a_webhook_dispatch_process_without_webhooks_does_not_load_requests(tmp_path: Path) -> None:
    env = {"PYTHONPATH": f"{pythonpath()}:{Path(__file__).resolve().parents[2]}",
           "METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "WEBHOOK_SWEEP_S": "0.1",
           "NATS_URL": "nats://127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-c", DISPATCH_WITHOUT_WEBHOOKS], env=env, capture_output=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {"status": 200, "sweeper_alive": True, "requests": False}
