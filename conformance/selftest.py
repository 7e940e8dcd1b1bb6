"""``conformance selftest``: the suite's proof of teeth.

The suite runs against the embedded reference backend as it is (each API must pass) and against
it with each defect switched on, one at a time (each must fail). The suite is not told what is
broken: a job runs ``conformance run`` against the API the defect lives on, with the same
profile, seed and selection for every job, exactly as it would run against any backend. Jobs run
in parallel, each in a process of its own (its backend in it, on a free loopback port).

What it leaves (``--reports DIR``, default ``reports``):
- ``DIR/selftest.json``: the matrix, one row per job: defect (or ``clean``), API, outcome
  (``passed`` for a clean run that passed, ``caught`` for a defect that failed the verdict,
  ``missed``, ``broken``: the run could not give a verdict), the rules and the operations or
  scenarios that reported it, and the seconds to the verdict.
- ``DIR/selftest/<job>/``: each run's own reports (verdict.json, junit.xml, summary.md, log).
- ``DIR/allure-results/``: one Allure result per job, so the HTML report shows the matrix.

Exit 0 only when every clean run passed and every defect was caught; 1 otherwise; 2 when a job
broke (its verdict cannot be trusted).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from conformance.contract import BUNDLED_APIS
from conformance.errors import ExitCode, UsageError

SCHEMA = "conformance-selftest/1"
#: the profile every job runs (the same for the clean runs and every defect)
PROFILE = "gate"
#: one seed for every job, so that a defect's run differs from the clean one only by the defect
SEED = 1
#: seconds one job may take before it is stopped (and reported broken)
JOB_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Job:
    """One run of the suite: a clean API, or an API with one defect switched on."""

    name: str  #: the defect's name, or ``clean-<api>``
    api: str
    defect: str | None = None


@dataclass
class Row:
    """What one job showed."""

    name: str
    api: str
    defect: str | None
    #: passed | caught | missed | broken
    outcome: str
    exit_code: int
    seconds: float
    rules: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    #: the contract rule the defect breaks (CONTRACT.md), for a defect
    breaks: str = ""
    reason: str = ""

    @property
    def good(self) -> bool:
        return self.outcome in ("passed", "caught")


def jobs(defects: Sequence[Any], apis: Sequence[str] = BUNDLED_APIS) -> list[Job]:
    """The clean run of each API, then each defect on its API (slowest-first order is the
    caller's business)."""
    found = [Job(f"clean-{api}", api) for api in apis]
    found += [Job(defect.name, defect.api, defect.name) for defect in defects if defect.api in apis]
    return found


def judge(job: Job, code: int, document: dict[str, Any] | None, seconds: float) -> Row:
    """A job's row from its exit code and its verdict.json."""
    rules: list[str] = []
    where: list[str] = []
    if document is not None:
        for operation in document.get("operations", []):
            failed = [f for f in operation.get("failures", []) if not f.get("waived")]
            for failure in failed:
                if failure["check"] not in rules:
                    rules.append(str(failure["check"]))
            if failed or operation.get("outcome") == "not_exercised":
                where.append(str(operation.get("label") or operation.get("operation_id")))
            if operation.get("outcome") == "not_exercised" and "exercised" not in rules:
                rules.append("exercised")
        for scenario in document.get("scenarios", []):
            failed = [f for f in scenario.get("failures", []) if not f.get("waived")]
            for failure in failed:
                if failure["rule"] not in rules:
                    rules.append(str(failure["rule"]))
            if failed:
                where.append(f"scenario {scenario['name']}")
    if code == ExitCode.OK:
        outcome = "passed" if job.defect is None else "missed"
    elif code == ExitCode.FAILED and document is not None:
        outcome = "caught" if job.defect is not None else "failed"
    else:
        outcome = "broken"
    return Row(job.name, job.api, job.defect, outcome, code, round(seconds, 1), rules, where)


def run_job(job: Job, root: Path, *, profile: str, seed: int, selection: Sequence[str] = ()) -> Row:
    """Run one job in a process of its own; its row."""
    reports = root / job.name
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verdict.json").unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "conformance", "selftest", "--job", job.name, "--api", job.api,
        "--reports", str(reports), "--profile", profile, "--seed", str(seed), *selection,
    ]  # fmt: skip
    began = time.monotonic()
    with (reports / "run.log").open("w", encoding="utf-8") as log:
        try:
            code = subprocess.run(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=JOB_TIMEOUT_S,
                check=False,
                env={**os.environ, "CONFORMANCE_HTML_REPORT": "0"},
            ).returncode
        except subprocess.TimeoutExpired:
            code = int(ExitCode.TARGET_BROKEN)
            log.write(f"selftest: stopped after {JOB_TIMEOUT_S:.0f} s\n")
    seconds = time.monotonic() - began
    try:
        document = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = None
    return judge(job, code, document, seconds)


def one(
    name: str,
    api: str,
    reports: Path,
    profile: str,
    seed: int,
    selection: Sequence[str],
    out: TextIO,
    err: TextIO,
) -> ExitCode:
    """Inside a job's process: serve ``api`` (with the defect ``name``, unless it is a clean
    run) on a free loopback port and run the suite against it as against any backend."""
    from conformance import reference, runner

    settings = runner.embedded_settings()
    if not name.startswith("clean-"):
        settings = dataclasses.replace(settings, defects=frozenset({name}))
    with reference.running([api], settings=settings) as backend:
        service = backend.backend(api).credentials["service"]
        os.environ[f"CONFORMANCE_{api.upper()}_USERNAME"] = service.email
        os.environ[f"CONFORMANCE_{api.upper()}_PASSWORD"] = service.password
        options = runner.RunOptions(
            targets=[f"{api}={backend.url(api)}"],
            profile=profile,
            seed=seed,
            reports=reports,
            html_report=False,
            pytest_args=["-p", "no:cacheprovider", "-q", *selection],
        )
        return runner.execute(options, out, err)


def matrix(
    chosen: Sequence[Job],
    root: Path,
    *,
    workers: int,
    profile: str,
    seed: int,
    selection: Sequence[str] = (),
    told: Callable[[Row, int, int], None] = lambda row, done, total: None,
) -> list[Row]:
    """Every job, ``workers`` at a time; the rows in the jobs' order."""
    rows: dict[str, Row] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(run_job, job, root, profile=profile, seed=seed, selection=selection): job
            for job in chosen
        }
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            rows[row.name] = row
            told(row, len(rows), len(chosen))
    return [rows[job.name] for job in chosen]


def exit_code(rows: Sequence[Row]) -> ExitCode:
    if any(row.outcome == "broken" for row in rows):
        return ExitCode.TARGET_BROKEN
    return ExitCode.OK if all(row.good for row in rows) else ExitCode.FAILED


def line(row: Row) -> str:
    """One row of the printed matrix."""
    mark = {"passed": "passed", "caught": "CAUGHT", "missed": "MISSED", "failed": "FAILED"}
    what = mark.get(row.outcome, row.outcome.upper())
    told = ", ".join(row.rules[:4]) + (f" (+{len(row.rules) - 4})" if len(row.rules) > 4 else "")
    where = ", ".join(row.where[:3]) + (f" (+{len(row.where) - 3})" if len(row.where) > 3 else "")
    detail = f"{told} on {where}" if told and where else told or where
    if row.outcome == "passed":
        detail = ""
    return f"{row.name:<28} {row.api:<6} {what:<7} {row.seconds:>6.1f} s  {detail}".rstrip()


def write(path: Path, rows: Sequence[Row], *, profile: str, seed: int, seconds: float) -> None:
    from conformance import __version__

    document = {
        "schema": SCHEMA,
        "ok": exit_code(rows) == ExitCode.OK,
        "suite_version": __version__,
        "profile": profile,
        "seed": seed,
        "seconds": round(seconds, 1),
        "counts": {
            outcome: sum(1 for row in rows if row.outcome == outcome)
            for outcome in ("passed", "failed", "caught", "missed", "broken")
        },
        "rows": [dataclasses.asdict(row) for row in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def allure_results(folder: Path, rows: Sequence[Row]) -> None:
    """One Allure result per job: the matrix, in the HTML report."""
    if folder.exists():
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = int(time.time() * 1000)
    for row in rows:
        clean = row.defect is None
        title = f"{row.api} clean: passes" if clean else f"{row.name}: caught"
        status = "passed" if row.good else ("broken" if row.outcome == "broken" else "failed")
        message = (
            ""
            if row.good
            else f"{row.outcome}: " + (", ".join(row.rules) or f"exit {row.exit_code}")
        )
        trace = "\n".join(
            [f"rules: {', '.join(row.rules) or '-'}", f"where: {', '.join(row.where) or '-'}",
             f"exit code: {row.exit_code}", f"seconds to the verdict: {row.seconds}",
             f"breaks: {row.breaks}" if row.breaks else ""]
        ).strip()  # fmt: skip
        history = hashlib.md5(f"selftest:{row.name}".encode(), usedforsecurity=False).hexdigest()
        result = {
            "uuid": str(uuid.uuid4()),
            "historyId": history,
            "testCaseId": history,
            "fullName": f"selftest.{row.name}",
            "name": title,
            "status": status,
            "stage": "finished",
            "start": stamp - int(row.seconds * 1000),
            "stop": stamp,
            "statusDetails": {"message": message, "trace": trace},
            "labels": [
                {"name": "epic", "value": "self-test"},
                {"name": "feature", "value": "clean runs" if clean else (row.breaks or row.api)},
                {"name": "story", "value": row.name},
                {"name": "parentSuite", "value": "self-test"},
                {"name": "suite", "value": "clean runs" if clean else "defects"},
                {"name": "subSuite", "value": row.api},
                {"name": "tag", "value": row.outcome},
            ],
            "parameters": [{"name": "api", "value": row.api}],
        }
        (folder / f"{result['uuid']}-result.json").write_text(json.dumps(result))


def known_defects(names: Sequence[str]) -> list[Any]:
    """The defects named (all when none), in the reference backend's order; UsageError for a
    name it does not know."""
    from conformance import reference

    by_name = {defect.name: defect for defect in reference.DEFECTS}
    for name in names:
        if name not in by_name:
            raise UsageError(
                f"--defect {name!r} is not a defect; `conformance serve --list-defects` lists them"
            )
    return [defect for defect in reference.DEFECTS if not names or defect.name in names]
