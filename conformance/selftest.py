"""``conformance selftest``: the suite's proof of teeth.

The suite runs against the embedded reference backend as it is (each API must pass) and against
it with each defect switched on, one at a time (each must fail). The suite is not told what is
broken: a job runs ``conformance run`` against the API the defect lives on, with the same
profile, seed and selection for every job, exactly as it would run against any backend. Jobs run
in parallel, each in a process of its own (its backend in it, on a free loopback port).

What it leaves (``--reports DIR``, default ``reports``):
- ``DIR/selftest.json``: the matrix, one row per job: defect (or ``clean``), API, outcome, the
  rules and the operations or scenarios that reported it, and the seconds to the verdict.
- ``DIR/selftest/<job>/``: each run's own reports (verdict.json, junit.xml, summary.md, log).
- ``DIR/allure-results/``: one Allure result per job, so the HTML report shows the matrix.

**By rule.** Each defect names the catalogue's rules that state the clause it breaks
(`Defect.rules`, checked against `conformance.catalogue` before anything runs). A defect is
``caught`` only when a failure of one of *its* rules is in the verdict; the matrix shows the rules
that caught it and the other rules that fired. A run failed only by other rules is ``stray``
("failed by other rules: …"): the suite saw something, but not the broken clause, and that fails
the self-test as a miss does. The other outcomes: ``passed`` (a clean run that passed),
``failed`` (a clean run that did not), ``missed`` (the verdict passed), ``broken`` (the run gave
no verdict).

Exit 0 only when every clean run passed and every defect was caught; 1 otherwise; 2 when a job
broke (its verdict cannot be trusted).

``--repeat N`` runs every job N times, each with its own seed (the seed + 0 … N - 1), and
counts the flakes: a clean run that did not pass, a defect run that was not caught. ``make
soak`` (``--soak``) is 20 runs of each API's clean backend and of each timing and concurrency
defect (`SOAK_DEFECTS`), written to ``DIR/soak.json``.

``--burn`` runs it all beside one busy process per CPU (`conformance.busy`; ``make soak BURN=1``):
a verdict must not depend on the machine's speed. They stop when the command ends, and by
themselves when their parent is gone or the longest the jobs could take has passed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from conformance import catalogue, verdict
from conformance.busy import Busy
from conformance.contract import BUNDLED_APIS
from conformance.errors import ConformanceError, ExitCode, UsageError
from conformance.verdict import LatencyOutcome, Outcome, Run

SCHEMA = "conformance-selftest/1"
#: the profile every job runs (the same for the clean runs and every defect)
PROFILE = "gate"
#: one seed for every job, so that a defect's run differs from the clean one only by the defect
SEED = 1
#: seconds one job may take before it is stopped (and reported broken)
JOB_TIMEOUT_S = 600.0
#: the defects whose catch depends on timing or on concurrent requests, and those whose catch
#: once depended on the seed (an error answer the run's draws may never earn: issue 21), proven
#: over many seeds here rather than in `make test`: `make soak` repeats them
SOAK_DEFECTS = (
    "expired-token-accepted", "refresh-reuse-undetected", "rate-limit-before-auth",
    "stale-version-accepted", "rate-limit-not-enforced", "global-rate-limit",
    "retry-after-missing", "remaining-rises", "slow-operation", "slow-tail", "slow-delete",
    "stack-trace-in-error",
)  # fmt: skip
SOAK_REPEAT = 20
#: the gate's rule and the latency scenario's, as the catalogue names them
EXERCISED = catalogue.rule("exercised").id
LATENCY_BUDGET = catalogue.rule("latency-budget").id


@dataclass(frozen=True)
class Job:
    """One run of the suite: a clean API, or an API with one defect switched on."""

    name: str  #: the defect's name, or ``clean-<api>``
    api: str
    defect: str | None = None
    #: which repetition (0 for the first); its seed is the run's seed + this
    repeat: int = 0
    #: the catalogue's rules that catch the defect (`Defect.rules`); none for a clean run
    rules: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        """The folder of its reports: the name, with ``.N`` for the N-th repetition."""
        return self.name if self.repeat == 0 else f"{self.name}.{self.repeat + 1}"


@dataclass
class Row:
    """What one job showed."""

    name: str
    api: str
    defect: str | None
    #: passed | failed | caught | stray | missed | broken
    outcome: str
    exit_code: int
    seconds: float
    #: every rule a failure of the verdict named, in its order
    rules: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    #: the defect's own rules (`Defect.rules`)
    expected: list[str] = field(default_factory=list)
    #: those of ``expected`` that failed: what caught it
    caught_by: list[str] = field(default_factory=list)
    #: the rules that failed besides (a stray run's only ones)
    others: list[str] = field(default_factory=list)
    #: the contract rule the defect breaks (CONTRACT.md), for a defect
    breaks: str = ""
    reason: str = ""
    seed: int = 0
    run_id: str = ""

    @property
    def good(self) -> bool:
        return self.outcome in ("passed", "caught")


def jobs(defects: Sequence[Any], apis: Sequence[str] = BUNDLED_APIS, repeat: int = 1) -> list[Job]:
    """The clean run of each API, then each defect on its API; ``repeat`` times each, the
    repetitions interleaved (a slow machine shows in every job alike)."""
    once = [Job(f"clean-{api}", api) for api in apis]
    once += [
        Job(defect.name, defect.api, defect.name, rules=tuple(defect.rules))
        for defect in defects
        if defect.api in apis
    ]
    return [dataclasses.replace(job, repeat=i) for i in range(repeat) for job in once]


def judge(job: Job, code: int, run: Run | None, seconds: float) -> Row:
    """A job's row from its exit code and its verdict.json: a defect is caught only by a failure
    of one of its own rules (`Job.rules`)."""
    rules, where = fired(run) if run is not None else ([], [])
    expected = list(job.rules)
    caught_by = [rule for rule in rules if rule in expected]
    others = [rule for rule in rules if rule not in expected] if job.defect else []
    reason = ""
    if code == ExitCode.OK:
        outcome = "passed" if job.defect is None else "missed"
        if job.defect is not None:
            reason = f"the verdict passed: no failure of {', '.join(expected)}"
    elif code == ExitCode.FAILED and run is not None:
        outcome = "failed" if job.defect is None else "caught" if caught_by else "stray"
        if outcome == "stray":
            own = ", ".join(expected)
            reason = (
                f"failed by other rules: {', '.join(others)}; none of its own ({own})"
                if others
                else f"failed, but by no rule (not by its own: {own})"
            )
    else:
        outcome = "broken"
    return Row(
        job.name, job.api, job.defect, outcome, code, round(seconds, 1), rules, where,
        expected=expected, caught_by=caught_by, others=others, reason=reason,
    )  # fmt: skip


def fired(run: Run) -> tuple[list[str], list[str]]:
    """The rules a verdict's failures name (waived ones left out), in its order, and where: an
    operation's failures by ``check``, ``exercised`` for an operation that was not, a
    scenario's failures by ``rule``, and ``latency-budget`` for a latency row over budget."""
    rules: list[str] = []
    where: list[str] = []

    def add(rule: str) -> None:
        if rule not in rules:
            rules.append(rule)

    for operation in run.operations:
        failed = [f for f in operation.failures if not f.waived]
        for failure in failed:
            add(failure.check)
        if operation.outcome == Outcome.NOT_EXERCISED:
            add(EXERCISED)
        if failed or operation.outcome == Outcome.NOT_EXERCISED:
            where.append(operation.label or operation.operation_id)
    for scenario in run.scenarios:
        failed_rules = [f for f in scenario.failures if not f.waived]
        for scenario_failure in failed_rules:
            add(scenario_failure.rule)
        if failed_rules:
            where.append(f"{scenario.kind} {scenario.name}")
        over = any(row.outcome == LatencyOutcome.EXCEEDED for row in scenario.latency)
        if over and scenario.outcome != Outcome.WAIVED:
            add(LATENCY_BUDGET)
    return rules, where


def run_job(
    job: Job,
    root: Path,
    *,
    profile: str,
    seed: int,
    selection: Sequence[str] = (),
    thorough: bool = False,
) -> Row:
    """Run one job in a process of its own; its row."""
    reports = root / job.run_id
    seed += job.repeat
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verdict.json").unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "conformance", "selftest", "--job", job.name, "--api", job.api,
        "--reports", str(reports), "--profile", profile, "--seed", str(seed), *selection,
        *(["--thorough"] if thorough else []),
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
    row = judge(job, code, verdict.read(reports), seconds)
    row.seed, row.run_id = seed, job.run_id
    return row


@dataclass
class Options:
    """What the command line said (None: the default)."""

    reports: Path = Path("reports")
    defects: Sequence[str] = ()
    jobs: int | None = None
    profile: str | None = None
    seed: int | None = None
    select: str | None = None
    repeat: int | None = None
    soak: bool = False
    #: every job runs the whole suite (every rule that reports a defect), not to its first failure
    thorough: bool = False
    #: beside one busy process per CPU (`conformance.busy`)
    burn: bool = False

    @property
    def selection(self) -> list[str]:
        return ["-k", self.select] if self.select else []

    def checked(self) -> tuple[str, int, int]:
        """The profile, the first seed and the repetitions; UsageError for a bad value."""
        from conformance.config import PROFILES

        profile = self.profile or PROFILE
        if profile not in PROFILES:
            raise UsageError(f"--profile {profile!r}: use one of {', '.join(PROFILES)}")
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"--jobs {self.jobs}: use 1 or more")
        repeat = self.repeat if self.repeat is not None else (SOAK_REPEAT if self.soak else 1)
        if repeat < 1:
            raise UsageError(f"--repeat {repeat}: use 1 or more")
        return profile, SEED if self.seed is None else self.seed, repeat


def one(name: str, api: str, options: Options, out: TextIO, err: TextIO) -> ExitCode:
    """Inside a job's process: serve ``api`` (with the defect ``name``, unless it is a clean
    run) on a free loopback port and run the suite against it as against any backend."""
    from conformance import runner

    profile, seed, _ = options.checked()
    settings = runner.embedded_settings()
    if not name.startswith("clean-"):
        settings = dataclasses.replace(settings, defects=frozenset({name}))
    with runner.embedded(out, [api], settings) as targets:
        given = {"profile": profile, "seed": seed, "reports": options.reports}
        run = runner.RunOptions(
            targets=[f"{api}={targets[api].url}"],
            given={**given, "html_report": False, "fail_fast": not options.thorough},
            pytest_args=["-p", "no:cacheprovider", "-q", *options.selection],
        )
        return runner.execute(run, out, err)


def command(options: Options, out: TextIO, err: TextIO) -> ExitCode:
    """``conformance selftest``: the matrix (or, repeated, the soak), printed and written."""
    from conformance import runner

    profile, seed, repeat = options.checked()
    names = list(options.defects) or (list(SOAK_DEFECTS) if options.soak else [])
    defects = known_defects(names)
    apis = sorted({d.api for d in defects}) if options.defects else list(BUNDLED_APIS)
    chosen = jobs(defects, apis, repeat)
    workers = options.jobs or max(1, os.cpu_count() or 1)
    reports = options.reports
    what = "soak" if repeat > 1 else "selftest"
    # the longest the jobs can take (each is stopped at its timeout), and a minute more
    longest = math.ceil(len(chosen) / workers) * JOB_TIMEOUT_S + 60
    busy = Busy(seconds=longest) if options.burn else None
    out.write(
        f"{what}: {len(chosen)} runs ({len(apis)} clean, {len(defects)} defects"
        + (f", {repeat} times each, seeds {seed} to {seed + repeat - 1}" if repeat > 1 else "")
        + f"), {workers} at a time, profile {profile}"
        + (f", seed {seed}" if repeat == 1 else "")
        + (", each to its end" if options.thorough else ", each to its first failure")
        + (f", every run narrowed by -k {options.select!r}" if options.select else "")
        + (f", beside {busy} (--burn)" if busy else "")
        + f"; each run's reports in {reports / 'selftest'}\n"
    )
    out.flush()

    def told(row: Row, done: int, total: int) -> None:
        out.write(f"{what}: [{done}/{total}] {line(row)}\n")
        out.flush()

    began = time.monotonic()
    with busy if busy is not None else contextlib.nullcontext():
        rows = matrix(
            chosen, reports / "selftest", workers=workers, profile=profile, seed=seed,
            selection=options.selection, thorough=options.thorough, told=told,
        )  # fmt: skip
    breaks = {defect.name: defect.rule for defect in defects}
    for row in rows:
        row.breaks = breaks.get(row.name, "")
    seconds = time.monotonic() - began
    written = reports / f"{what}.json"
    write(
        written, rows, profile=profile, seed=seed, seconds=seconds, repeat=repeat,
        fail_fast=not options.thorough, busy=busy.count if busy else 0,
    )  # fmt: skip
    allure_results(reports / "allure-results", rows)
    out.write(f"\n{'run':<28} {'api':<6} {'outcome':<7} {'seconds':>8}  by which rules, on where\n")
    for row in rows:
        out.write(line(row) + "\n")
    if repeat > 1:
        counted = flakes(rows)
        out.write(f"\n{'run':<28} {'api':<6} {'good':>9}\n")
        for entry in counted["jobs"]:
            good = f"{entry['good']}/{entry['runs']}"
            out.write(f"{entry['name']:<28} {entry['api']:<6} {good:>9}\n")
        out.write(
            f"soak: {counted['bad']} of {counted['runs']} runs did not come out as they must:"
            f" a flake rate of {counted['flake_rate']:.1%}\n"
        )
    runner.html_report(reports, out, err)
    code = exit_code(rows)
    caught = sum(1 for row in rows if row.outcome == "caught")
    bad = sorted({row.run_id for row in rows if not row.good})
    if code == ExitCode.OK:
        out.write(
            f"{what}: {caught} of {len(defects) * repeat} defect runs caught, the clean runs"
            f" passed, in {seconds:.0f} s ({written})\n"
        )
    else:
        err.write(
            f"{what}: FAIL: {', '.join(bad)} did not come out as they must; {caught} of"
            f" {len(defects) * repeat} defect runs caught in {seconds:.0f} s ({written})\n"
        )
    return code


def matrix(
    chosen: Sequence[Job],
    root: Path,
    *,
    workers: int,
    profile: str,
    seed: int,
    selection: Sequence[str] = (),
    thorough: bool = False,
    told: Callable[[Row, int, int], None] = lambda row, done, total: None,
) -> list[Row]:
    """Every job, ``workers`` at a time; the rows in the jobs' order."""
    rows: dict[str, Row] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(
                run_job,
                job,
                root,
                profile=profile,
                seed=seed,
                selection=selection,
                thorough=thorough,
            ): job
            for job in chosen
        }
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            rows[row.run_id] = row
            told(row, len(rows), len(chosen))
    return [rows[job.run_id] for job in chosen]


def exit_code(rows: Sequence[Row]) -> ExitCode:
    if any(row.outcome == "broken" for row in rows):
        return ExitCode.TARGET_BROKEN
    return ExitCode.OK if all(row.good for row in rows) else ExitCode.FAILED


def line(row: Row) -> str:
    """One row of the printed matrix: a defect's catching rules first (the others that fired in
    brackets), a stray run's other rules, a missed one's own."""
    mark = {"passed": "passed", "caught": "CAUGHT", "missed": "MISSED", "failed": "FAILED"}
    what = mark.get(row.outcome, row.outcome.upper())
    where = _few(row.where, 3)
    if row.outcome == "passed":
        detail = ""
    elif row.outcome == "caught":
        also = f" (also {_few(row.others, 3)})" if row.others else ""
        detail = f"by {_few(row.caught_by, 3)}{also} on {where}"
    elif row.outcome in ("stray", "missed"):
        detail = row.reason + (f" on {where}" if row.outcome == "stray" and where else "")
    else:
        told = _few(row.rules, 4)
        detail = f"{told} on {where}" if told and where else told or where
    name = row.run_id or row.name
    return f"{name:<28} {row.api:<6} {what:<7} {row.seconds:>6.1f} s  {detail}".rstrip()


def _few(names: Sequence[str], shown: int) -> str:
    more = f" (+{len(names) - shown})" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def flakes(rows: Sequence[Row]) -> dict[str, Any]:
    """Per job over its repetitions: runs, the good ones, the outcomes; and the flake rate (runs
    that did not come out as they must, of all runs)."""
    by_name: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_name.setdefault(
            row.name, {"name": row.name, "api": row.api, "runs": 0, "good": 0, "outcomes": {}}
        )
        entry["runs"] += 1
        entry["good"] += int(row.good)
        entry["outcomes"][row.outcome] = entry["outcomes"].get(row.outcome, 0) + 1
        if not row.good:
            entry.setdefault("bad_seeds", []).append(row.seed)
    bad = sum(1 for row in rows if not row.good)
    return {
        "runs": len(rows),
        "bad": bad,
        "flake_rate": round(bad / len(rows), 4) if rows else 0.0,
        "jobs": list(by_name.values()),
    }


def write(
    path: Path,
    rows: Sequence[Row],
    *,
    profile: str,
    seed: int,
    seconds: float,
    repeat: int = 1,
    fail_fast: bool = True,
    busy: int = 0,
) -> None:
    from conformance import __version__

    document = {
        "schema": SCHEMA,
        "repeat": repeat,
        "ok": exit_code(rows) == ExitCode.OK,
        "suite_version": __version__,
        "profile": profile,
        "seed": seed,
        #: each job stopped at its first failure (`conformance run --fail-fast`)
        "fail_fast": fail_fast,
        #: busy processes beside the jobs (``--burn``): 0 on a machine left alone
        "busy": busy,
        "seconds": round(seconds, 1),
        "counts": {
            outcome: sum(1 for row in rows if row.outcome == outcome)
            for outcome in ("passed", "failed", "caught", "stray", "missed", "broken")
        },
        "rows": [dataclasses.asdict(row) for row in rows],
    }
    if repeat > 1:
        document["flakes"] = flakes(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def allure_results(folder: Path, rows: Sequence[Row]) -> None:
    """One Allure result per job: the matrix, in the HTML report."""
    from conformance.reporting import allure_result

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
            else f"{row.outcome}: "
            + (row.reason or ", ".join(row.rules) or f"exit {row.exit_code}")
        )
        trace = "\n".join(
            [f"caught by: {', '.join(row.caught_by) or '-'}" if not clean else "",
             f"its rules: {', '.join(row.expected)}" if not clean else "",
             f"other rules: {', '.join(row.others) or '-'}" if not clean else "",
             f"rules: {', '.join(row.rules) or '-'}", f"where: {', '.join(row.where) or '-'}",
             f"exit code: {row.exit_code}", f"seconds to the verdict: {row.seconds}",
             f"breaks: {row.breaks}" if row.breaks else ""]
        ).strip()  # fmt: skip
        title = title if row.run_id in ("", row.name) else f"{title} (run {row.run_id})"
        result = allure_result(
            ("selftest", row.name),  # the repetitions of a soak share it: Allure's retries
            name=title,
            full_name=f"selftest.{row.name}",
            status=status,
            labels=[
                ("epic", "self-test"),
                ("feature", "clean runs" if clean else (row.breaks or row.api)),
                ("story", row.name),
                ("parentSuite", "self-test"),
                ("suite", "clean runs" if clean else "defects"),
                ("subSuite", row.api),
                ("tag", row.outcome),
            ],
            parameters={"api": row.api},
            start=stamp - int(row.seconds * 1000),
            stop=stamp,
            message=message,
            trace=trace,
        )
        (folder / f"{result['uuid']}-result.json").write_text(json.dumps(result))


def known_defects(names: Sequence[str]) -> list[Any]:
    """The defects named (all when none), in the reference backend's order; UsageError for a
    name it does not know. Every defect's rules are checked first (`check_defect_rules`)."""
    from conformance import reference

    check_defect_rules(reference.DEFECTS)
    by_name = {defect.name: defect for defect in reference.DEFECTS}
    for name in names:
        if name not in by_name:
            raise UsageError(
                f"--defect {name!r} is not a defect; `conformance serve --list-defects` lists them"
            )
    return [defect for defect in reference.DEFECTS if not names or defect.name in names]


def check_defect_rules(defects: Sequence[Any]) -> None:
    """Each defect names at least one rule, and only rules of the catalogue: the reference
    backend may not import it, so its table holds the ids as strings, checked here."""
    for defect in defects:
        if not defect.rules:
            raise ConformanceError(
                f"the defect {defect.name!r} names no rule; list the catalogue's rules that"
                " catch it in its Defect"
            )
        unknown = catalogue.known(defect.rules)
        if unknown:
            raise ConformanceError(
                f"the defect {defect.name!r} names {unknown[0]!r}, which is not a rule of the"
                " catalogue (conformance/catalogue.py)"
            )
