"""Running one piece of work in several threads at once, and collecting what each raised."""

from __future__ import annotations

import threading
from collections.abc import Callable


def concurrently(work: Callable[[int], object], count: int, timeout: float = 120) -> list[BaseException]:
    """`work(0)` … `work(count - 1)`, each in its own thread, all started together; what they raised."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors
