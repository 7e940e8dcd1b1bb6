"""Busy processes beside a run: one per CPU, each spinning, so that what must hold on a slow
machine (a verdict, a test) is shown to hold on one (``selftest --burn``, ``make soak BURN=1``,
``make test BURN=1``).

Each is bounded by itself, whatever happens to what started it: it stops when its parent is gone
(it looks every few milliseconds, so a killed soak leaves none behind) and at its deadline.
`Busy` stops them when its block ends.

    python -m conformance.busy [--processes N] [--seconds S] -- COMMAND [ARG ...]

runs COMMAND beside them and exits with COMMAND's exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from types import TracebackType

#: the longest busy processes spin when no one says (a `make test` takes about 15 minutes)
DEFAULT_S = 2 * 3600.0

#: what each one runs: its parent's pid and its seconds are its arguments
SPIN = """\
# conformance.busy: spinning beside a run
import os, sys, time
parent, ends = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while os.getppid() == parent and time.monotonic() < ends:
    for _ in range(100_000):
        pass
"""


class Busy:
    """``processes`` busy processes (default: one per CPU) for the ``with`` block, none living
    longer than ``seconds``."""

    def __init__(self, processes: int | None = None, seconds: float = DEFAULT_S) -> None:
        self.count = processes if processes is not None else (os.cpu_count() or 1)
        if self.count < 1:
            raise ValueError(f"busy processes: {self.count}; use 1 or more")
        self.seconds = seconds
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> Busy:
        parent = str(os.getpid())
        for _ in range(self.count):
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-I", "-c", SPIN, parent, str(self.seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self

    def stop(self) -> None:
        """Stop them all (each is asked, then killed after 5 s), and reap them."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Busy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def __str__(self) -> str:
        return f"{self.count} busy process{'es' if self.count != 1 else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.busy",
        description="Run COMMAND beside busy processes (one per CPU); exit with its exit code.",
    )
    parser.add_argument("--processes", type=int, default=None, metavar="N")
    parser.add_argument("--seconds", type=float, default=DEFAULT_S, metavar="S",
                        help="the longest they spin (default: two hours)")  # fmt: skip
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND to run beside them")
    with Busy(args.processes, args.seconds) as busy:
        sys.stderr.write(f"busy: {busy} beside {' '.join(command)}\n")
        sys.stderr.flush()
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
