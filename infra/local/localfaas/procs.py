"""Child-process hygiene: children die with the runtime, even when it is SIGKILLed."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def child_preexec() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM it when its parent dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
