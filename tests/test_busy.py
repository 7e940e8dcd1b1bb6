"""The busy processes beside a run (`conformance.busy`, ``selftest --burn``): as many as asked,
spinning while the block runs, gone after it, and gone by themselves when their parent dies or
their time is up (read off /proc: Linux only)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import runner, selftest
from conformance.busy import Busy
from conformance.cli import run

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

#: what the busy processes' command line holds (`conformance.busy.SPIN`)
MARK = b"conformance.busy: spinning"
#: the longest a busy process may take to see that it must stop (it looks every few ms; start-up
#: and a busy machine take the rest)
STOPS_WITHIN_S = 30.0


def stat(pid: int) -> tuple[str, int] | None:
    """A busy process's state and parent (None: gone, a zombie, or not a busy process)."""
    folder = Path(f"/proc/{pid}")
    try:
        fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
        command = (folder / "cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z" or MARK not in command:
        return None
    return fields[0], int(fields[1])


def spinning(parent: int) -> list[int]:
    """The busy processes of ``parent`` still running."""
    found = []
    for folder in Path("/proc").iterdir():
        if folder.name.isdigit():
            seen = stat(int(folder.name))
            if seen is not None and seen[1] == parent:
                found.append(int(folder.name))
    return sorted(found)


def gone_within(pids: Sequence[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(stat(pid) is not None for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_busy_processes_spin_for_the_block_and_are_gone_after() -> None:
    with Busy(2, seconds=120) as busy:
        assert str(busy) == "2 busy processes"
        assert spinning(os.getpid()) == sorted(p.pid for p in busy.processes)
        assert all(p.poll() is None for p in busy.processes)
    assert all(p.returncode is not None for p in busy.processes)
    assert spinning(os.getpid()) == []


def test_a_busy_process_stops_by_itself_at_its_deadline() -> None:
    busy = Busy(1, seconds=0.5).start()
    try:
        (process,) = busy.processes
        process.wait(timeout=STOPS_WITHIN_S)
        assert process.returncode == 0  # ended its loop, not stopped
    finally:
        busy.stop()


def test_busy_processes_stop_by_themselves_when_their_parent_dies(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import pathlib, sys, time\nfrom conformance.busy import Busy\n"
         "busy = Busy(2, seconds=600).start()\n"
         f"pathlib.Path({str(pids_file)!r}).write_text(' '.join(str(p.pid) for p in"
         " busy.processes))\ntime.sleep(600)\n"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STOPS_WITHIN_S
        while not pids_file.is_file() or len(pids_file.read_text().split()) < 2:
            assert parent.poll() is None, "the parent ended before it started them"
            assert time.monotonic() < deadline, "the parent started no busy processes in time"
            time.sleep(0.05)
        pids = [int(pid) for pid in pids_file.read_text().split()]
        assert [(stat(pid) or ("", 0))[1] for pid in pids] == [parent.pid] * 2  # running
    finally:
        parent.kill()  # no chance to stop them: they must see it themselves
        parent.wait()
    assert gone_within(pids, STOPS_WITHIN_S), f"busy processes outlived their parent: {pids}"


def test_a_command_runs_beside_them_and_its_exit_code_is_kept() -> None:
    code = subprocess.call(
        [sys.executable, "-m", "conformance.busy", "--processes", "1", "--seconds", "120", "--",
         sys.executable, "-c", "raise SystemExit(3)"],
        timeout=120,
    )  # fmt: skip
    assert code == 3


def test_selftest_burn_runs_the_jobs_beside_one_busy_process_per_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_while_running: list[list[int]] = []

    def matrix(chosen: Sequence[selftest.Job], root: Path, **_: Any) -> list[selftest.Row]:
        busy_while_running.append(spinning(os.getpid()))
        outcome = {True: ("caught", 1), False: ("passed", 0)}
        return [
            selftest.Row(job.name, job.api, job.defect, *outcome[job.defect is not None], 1.0)
            for job in chosen
        ]

    monkeypatch.setattr(selftest, "matrix", matrix)
    monkeypatch.setattr(runner, "html_report", lambda *_: None)
    out, err = io.StringIO(), io.StringIO()
    code = run(["selftest", "--defect", "wrong-type", "--burn", "--reports", str(tmp_path)],
               out, err)  # fmt: skip
    assert code == 0, err.getvalue()
    cpus = os.cpu_count() or 1
    assert [len(pids) for pids in busy_while_running] == [cpus]
    assert spinning(os.getpid()) == []
    assert json.loads((tmp_path / "selftest.json").read_text())["busy"] == cpus
    plural = "es" if cpus != 1 else ""
    assert f"beside {cpus} busy process{plural} (--burn)" in out.getvalue()
