"""How a run is stopped from outside: SIGTERM ends it as Ctrl-C does, so its cleanup still runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from conformance.suite._engine import STOPPING


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a cancelled CI job; it reaches xdist workers too) ends a run as Ctrl-C does, as a
    KeyboardInterrupt: the cleanup's ``finally`` still removes what the run created, and pytest
    keeps the reports. Both also set `STOPPING`, which the engine checks after every event
    (schemathesis can swallow the KeyboardInterrupt itself). Signals land in the main thread
    only; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        STOPPING.set()
        raise KeyboardInterrupt

    STOPPING.clear()
    numbers = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, interrupt) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        STOPPING.clear()  # the next run in this process starts afresh
