"""`python -m localfaas -f stack.yml`: run the stack locally (what `make run` calls)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingestor import logs
from localfaas.runtime import Options, main

parser = argparse.ArgumentParser(prog="localfaas", description=__doc__)
parser.add_argument("-f", "--stack", type=Path, default=Path("stack.yml"))
parser.add_argument("--port", type=int, default=8080, help="gateway port on 127.0.0.1 (0: any free port)")
parser.add_argument("--nats-port", type=int, default=4222, help="nats-server port (0: any free port)")
parser.add_argument("--data-dir", type=Path, default=Path(".data"), help="JetStream storage and state")
parser.add_argument("--secrets-dir", type=Path, default=Path(".secrets"), help="secrets, one file each")
args = parser.parse_args()
logs.setup("local-runtime")
sys.exit(main(Options(args.stack, args.port, args.nats_port, args.data_dir.resolve(), args.secrets_dir.resolve())))
