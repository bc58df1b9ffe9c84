"""Child-process hygiene: children die with the runtime, even when it is SIGKILLed."""

from __future__ import annotations

import ctypes
import signal
import subprocess

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def child_preexec() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM it when its parent dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Ask a child to stop with `sig`; SIGKILL it if it has not gone within `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
