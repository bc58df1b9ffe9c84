"""A signed call to a function by hand, as the connectors make them: run the archive, restore days, poll now.

    python -m localfaas.call POST 'retention-archive/restore?from=2025-01-01&to=2025-01-31'
    python -m localfaas.call POST context-poll
    python -m localfaas.call POST write --data batch.json

Functions with REQUIRE_CONNECTOR_SIGNATURE=true accept only calls signed with the `connector-key` secret
(ingestor.signedcalls). The key is read from $SECRETS_DIR/connector-key (default .secrets, where the local
runtime and `make secrets` keep it), else CONNECTOR_KEY; the gateway from --gateway, else OPENFAAS_URL,
else http://127.0.0.1:8080. Prints the answer's body; exits 1 unless it is a 2xx.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ingestor import config, signedcalls


def signature(key: str, method: str, target: str, body: bytes) -> dict[str, str]:
    """The header that signs calling `target` ("<function>[/path][?query]", as on the wire) with `method`."""
    path, _, query = target.partition("?")
    return signedcalls.sign(key, method, "/" + path.partition("/")[2], query, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localfaas.call", description=__doc__.split("\n\n")[0])
    parser.add_argument("method", type=str.upper)
    parser.add_argument("target", help="<function>[/path][?query]")
    parser.add_argument("--data", type=Path, help="a file whose content is the request body (- for stdin)")
    parser.add_argument("--gateway", default=config.env_str("OPENFAAS_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args(argv)
    os.environ.setdefault("SECRETS_DIR", ".secrets")
    key = signedcalls.key()
    if not key:
        parser.error(f"no {signedcalls.SECRET} in {config.secrets_dir()} and no CONNECTOR_KEY")
    body = b"" if args.data is None else sys.stdin.buffer.read() if str(args.data) == "-" else args.data.read_bytes()
    headers = signature(key, args.method, args.target, body)
    if body:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"{args.gateway.rstrip('/')}/function/{args.target.lstrip('/')}", data=body,
                                     method=args.method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=1900) as answer:  # retention-archive may take 30 min
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    sys.stdout.buffer.write(text + b"\n")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
