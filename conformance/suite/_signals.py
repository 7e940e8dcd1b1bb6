"""How a run is stopped from outside: SIGTERM ends it as Ctrl-C does, so its cleanup still runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from conformance.suite._engine import STOPPING

#: set by the run's SIGINT or SIGTERM, kept after the run (`interrupted`): an error that ends the
#: run after it is the interrupt's doing
_INTERRUPTED = threading.Event()


def interrupted() -> bool:
    """Whether the last run in this process was interrupted (SIGINT, SIGTERM). On CPython 3.11.7
    a KeyboardInterrupt raised while ``ast.parse`` converts its tree becomes a ``SystemError``
    ("AST constructor recursion depth mismatch", CPython gh-106905): a serial run interrupted
    there ended as an internal error (exit 3) instead of an interrupted one."""
    return _INTERRUPTED.is_set()


def forget_interrupt() -> None:
    """A new command begins: an earlier run's interrupt is not its own."""
    _INTERRUPTED.clear()


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
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    STOPPING.clear()
    _INTERRUPTED.clear()
    numbers = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, interrupt) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        STOPPING.clear()  # the next run in this process starts afresh
