"""`make audit`: the pinned dependencies (constraints.txt) against published advisories, with pip-audit.

pip-audit asks an advisory service for each pin. Offline it fails with a connection error; behind a
package mirror without that service it says "No known vulnerabilities found" while having checked
nothing. Both are reported here as "offline: not checked", and pins left unchecked are named.
Exit status: 0 when nothing known is found (or nothing could be checked: "offline: not checked"),
1 when a pin has a known vulnerability, 2 when pip-audit itself failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def verdict(report: dict[str, Any]) -> tuple[int, list[str]]:
    """(exit status, lines to print) for pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    lines = [f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['no release'])})"
             for d in vulnerable for v in d["vulns"]]
    checked = len(deps) - len(skipped)
    if skipped and not checked:
        lines.append(f"offline: not checked ({len(skipped)} pins; the advisory service could not be reached: "
                     f"{skipped[0]['skip_reason']})")
        return 0, lines
    if skipped:
        lines.append("not checked: " + ", ".join(d["name"] for d in skipped))
    lines.append(f"{checked} pins checked, {len(vulnerable)} with known vulnerabilities")
    return (1 if vulnerable else 0), lines


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        run = subprocess.run([sys.executable, "-m", "pip_audit", "--requirement", str(REPO / "constraints.txt"),
                              "--no-deps", "--disable-pip", "--progress-spinner", "off", "--format", "json",
                              "--output", str(out)], capture_output=True, text=True)
        if not out.exists():
            last = run.stderr.strip().splitlines()[-1:] or [""]
            if last[0].startswith("requests.exceptions.") and ("ConnectionError" in last[0] or "ProxyError" in last[0]
                                                              or "Timeout" in last[0]):
                print(f"offline: not checked (the advisory service could not be reached: {last[0][:300]})")
                return 0
            print(f"pip-audit failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}", file=sys.stderr)
            return 2
        status, lines = verdict(json.loads(out.read_text()))
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
