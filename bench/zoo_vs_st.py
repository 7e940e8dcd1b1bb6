"""The suite against ``st run`` on the zoo's planted apps (`tests.zoo`): wall time and findings.

For each app of the zoo, its bugs planted, and each seed, each tool twice (``--runs N``: N
times), in turns (the suite, st, the suite, st: a change in the machine's load falls on both;
the ratio of one app over six seeds moved by ±0.05 from one bench to the next on a 2-core
machine shared with another job, more runs narrow it), each run on a fresh copy of
the app (served in this process on a free loopback port, its seed data as before any run):

1. ``suite``: ``conformance run --spec FILE --target URL -m fuzz --profile P --seed S`` (shared
   mode, cleanup included), the app's credential in the environment as a user gives it; its
   findings are the distinct (operationId, check) pairs of verdict.json's failures, and its
   progress lines are kept with the second each arrived (where the time goes);
2. ``st``: ``SCHEMATHESIS_HOOKS=conformance.checks st run FILE --url URL --checks all``
   with a ``schemathesis.toml`` holding what ``engine_settings`` gives the suite's engine (same
   seed, example budget and link inference), the credential as a header from the environment;
   its findings are read from its JUnit report (``--report junit``: a test case per operation, a
   failure's codes mapped to their checks through schemathesis's failure classes, a stateful
   failure counted for the operation of its last request) and united over its runs (st's
   findings vary at one seed).

Each row also says which planted bugs acted at the server (`ZooApp.hits`) under each tool.
``--clean``: the apps without their bugs (``reports/bench-zoo-clean.json``), the speed where
neither tool finds a failure: st's engine runs its stateful phase again after each new failure
(schemathesis's `_classify_failure_group`), each time with its whole budget, so there a tool
that finds more also runs longer (the suite's budget is the phase's: `StatefulBudget`).
``--same-operations``: st leaves out what the suite left out on a shared target (the
inventory's reset, which otherwise wipes st's own items and cuts its chains short).
Prints a table with the ratios (suite / st: each tool's mean wall time, findings), and with
more than one ``--seed`` a line per app over them all (the wall times summed, the findings
united: the stateful phase of either tool ends at another scenario at each seed, st's often on
hypothesis's flaky-strategy stop), writes ``reports/bench-zoo.json``; the tools' output and
configs go to ``reports/bench-zoo/``.

    .venv/bin/python bench/zoo_vs_st.py [--seed 1 [--seed 2 …]] [--profile gate] [--timeout 600]
        [--app blog] [--runs 2] [--clean] [--same-operations] …
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.parse
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import schemathesis.specs.openapi.checks  # noqa: F401 - defines the failure classes of its checks
import tomlkit
from schemathesis.core.failures import Failure

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the zoo lives in the project's tests

from conformance.contract import load_spec  # noqa: E402 - after the path above
from conformance.suite import PROFILES, engine_settings, link_sources  # noqa: E402
from tests.plain_specs import written  # noqa: E402
from tests.zoo import ZOO, ZooApi, running  # noqa: E402

OUT = ROOT / "reports" / "bench-zoo"
BIN = Path(sys.executable).parent
TOKEN_VAR = "CONFORMANCE_BENCH_TOKEN"
Pair = tuple[str, str]


class BenchError(Exception):
    """One sentence on why the benchmark could not finish."""


def _failure_classes(cls: type[Failure]) -> list[type[Failure]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_failure_classes(child))]


#: schemathesis's failure codes (ST101 …) and the check each belongs to (the contract's checks
#: share ST901: theirs is named by its title)
CHECKS = {
    cls.code: cls.checks[0]
    for cls in _failure_classes(Failure)
    if cls.checks and cls.code != "ST901"
}


#: the apps whose planted bugs fuzzing finds (the vault's are the security probes', which
#: `st run` has none of: tests/suite/test_zoo_vault.py and the probes' tests show those)
FUZZED = sorted(name for name, api in ZOO.items() if api.bugs)


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}


def timed(
    argv: list[str], env: dict[str, str], timeout: float, log: Path
) -> tuple[int, float, str]:
    """Run ``argv`` to its end: its exit code, wall seconds, and its output, each line stamped
    with the second it arrived (written to ``log``, the token left out)."""
    began = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(
        argv, env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(f"{time.perf_counter() - began:7.1f}  {line.rstrip()}")
            if time.perf_counter() - began > timeout:
                process.kill()
                raise BenchError(f"{argv[0]} did not finish in {timeout:.0f} s; see {log}")
        code = process.wait()
    seconds = time.perf_counter() - began
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return code, seconds, "\n".join(lines)


def run_suite(api: ZooApi, spec: Path, args: argparse.Namespace, attempt: int) -> dict[str, Any]:
    reports = OUT / api.name / f"suite-{attempt}"
    (reports / "verdict.json").unlink(missing_ok=True)
    env = {**clean_environment(), **api.environment, "CONFORMANCE_HTML_REPORT": "0"}
    with running(api, planted=not args.clean) as served:
        argv = [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--spec",
            str(spec),
            "--target",
            served.url,
            "-m",
            "fuzz",
            "--profile",
            args.profile,
            "--seed",
            str(args.seed),
            "--reports",
            str(reports),
            "--no-html-report",
            "-p",
            "no:cacheprovider",
        ]
        code, seconds, output = timed(argv, env, args.timeout, reports.with_suffix(".log"))
        hits = sorted(set(served.app.hits))
        requests = served_requests(served.app)
    if code not in (0, 1):
        raise BenchError(f"conformance run on {api.name} exited {code}; see {OUT / api.name}")
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    pairs = {
        (op["operation_id"], f["check"]) for op in verdict["operations"] for f in op["failures"]
    }
    progress = [line for line in output.splitlines() if "conformance:" in line]
    return {
        "wall_s": round(seconds, 1),
        "exit_code": code,
        "pairs": sorted(pairs),
        "hits": hits,
        "requests": requests,
        "progress": progress,
        "excluded": sorted(str(item["operation_id"]) for item in verdict.get("excluded", [])),
    }


def st_config(api: ZooApi, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """What the suite's engine is given for ``api`` (its first pass), with the credential as a
    header taken from the environment (never written in the file)."""
    spec = load_spec(written(OUT / api.name, api.name, api.spec))
    operations = [str(op.operation_id) for op in spec.operations]
    headers = {
        name: value.replace(api.token, f"${{{TOKEN_VAR}}}") for name, value in api.headers.items()
    }
    infer = not link_sources(spec, operations)  # as run_engine decides
    return engine_settings(url, headers, args.profile, args.seed, infer_links=infer)


def operation_of(api: ZooApi, method: str, path: str) -> str:
    """The operationId of ``method`` ``path`` (a request's path, or the spec's template)."""
    for template, item in api.spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        found = item.get(method.lower())
        if found and (path == template or re.fullmatch(pattern, path)):
            return str(found["operationId"])
    return f"{method} {path}"


def junit_pairs(api: ZooApi, report: Path) -> set[Pair]:
    """The (operationId, check) pairs of st's JUnit report."""
    pairs: set[Pair] = set()
    for case in ElementTree.parse(report).iter("testcase"):
        for failure in case.iter("failure"):
            for block in re.split(r"^\d+\. Test Case ID", failure.text or "", flags=re.M)[1:]:
                codes = re.findall(r"^- (ST\d+) (.+)$", block, flags=re.M)
                label = case.get("name", "")
                if label == "Stateful tests":  # the last request of the sequence failed
                    requests = re.findall(r"curl -X (\w+) .*\s(https?://\S+)$", block, re.M)
                    if not requests:
                        continue
                    method, url = requests[-1]
                    label = f"{method} {urllib.parse.urlsplit(url).path}"
                method, _, path = label.partition(" ")
                operation = operation_of(api, method, path)
                pairs |= {(operation, CHECKS.get(code, title)) for code, title in codes}
    return pairs


def run_st(
    api: ZooApi, spec: Path, args: argparse.Namespace, attempt: int, excluded: list[str]
) -> dict[str, Any]:
    folder = OUT / api.name / f"st-{attempt}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("junit*.xml"):
        old.unlink()
    env = {**clean_environment(), "SCHEMATHESIS_HOOKS": "conformance.checks", TOKEN_VAR: api.token}
    with running(api, planted=not args.clean) as served:
        config = st_config(api, served.url, args)
        text = tomlkit.dumps(config)
        if tomllib.loads(text) != config:
            raise BenchError(f"the schemathesis.toml written for {api.name} does not read back")
        path = folder / "schemathesis.toml"
        path.write_text(text, encoding="utf-8")
        argv = [
            str(BIN / "st"),
            "--config-file",
            str(path),
            "run",
            str(spec),
            "--url",
            served.url,
            "--checks",
            "all",
            "--continue-on-failure",  # as the issue compares (the config's key is the same)
            # with --same-operations, what the suite left out on a shared target (a reset that
            # would wipe st's own items mid-chain and cut its stateful phase short)
            *(f"--exclude-operation-id={operation}" for operation in excluded),
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(folder),
        ]
        code, seconds, _ = timed(argv, env, args.timeout, folder.with_suffix(".log"))
        hits = sorted(set(served.app.hits))
        requests = served_requests(served.app)
    reports = sorted(folder.glob("junit*.xml"))
    if code not in (0, 1) or not reports:
        raise BenchError(f"st run on {api.name} exited {code}; see {folder.with_suffix('.log')}")
    return {
        "wall_s": round(seconds, 1),
        "exit_code": code,
        "pairs": sorted(junit_pairs(api, reports[-1])),
        "hits": hits,
        "requests": requests,
    }


def served_requests(app: Any) -> dict[str, int]:
    """The requests the app was sent, in all and by method and route (`ZooApp.served`)."""
    by_route = {f"{method} {route}": n for (method, route), n in sorted(app.served.items())}
    return {"total": sum(by_route.values()), **by_route}


def compare(api: ZooApi, args: argparse.Namespace) -> dict[str, Any]:
    """Each tool ``args.runs`` times on ``api`` at ``args.seed``, in turns (the suite, st, the
    suite, st …), so that a change in the machine's load falls on both: wall times are each
    tool's mean."""
    (OUT / api.name).mkdir(parents=True, exist_ok=True)
    spec = written(OUT / api.name, api.name, api.spec)
    suite: list[dict[str, Any]] = []
    st: list[dict[str, Any]] = []
    for attempt in range(1, args.runs + 1):
        suite.append(run_suite(api, spec, args, attempt))
        print(
            f"{api.name} seed {args.seed}: suite run {attempt}: {suite[-1]['wall_s']} s,"
            f" {len(suite[-1]['pairs'])} findings, {suite[-1]['requests']['total']} requests",
            flush=True,
        )
        excluded = suite[0]["excluded"] if args.same_operations else []
        st.append(run_st(api, spec, args, attempt, excluded))
        print(
            f"{api.name} seed {args.seed}: st run {attempt}: {st[-1]['wall_s']} s,"
            f" {len(st[-1]['pairs'])} findings, {st[-1]['requests']['total']} requests",
            flush=True,
        )
    union = sorted({tuple(pair) for run in st for pair in run["pairs"]})
    st_wall = sum(run["wall_s"] for run in st) / len(st)
    suite_wall = sum(run["wall_s"] for run in suite) / len(suite)
    suite_pairs = {tuple(pair) for run in suite for pair in run["pairs"]}
    return {
        "app": api.name,
        "seed": args.seed,
        "planted": [bug.name for bug in api.bugs] if not args.clean else [],
        "suite": suite,
        "st": st,
        # a seed gives the suite the same run: its runs' findings are the same
        "suite_runs_agree": all(run["pairs"] == suite[0]["pairs"] for run in suite),
        "suite_pairs": sorted(suite_pairs),
        "st_pairs_union": union,
        "suite_wall_s_mean": round(suite_wall, 1),
        "st_wall_s_mean": round(st_wall, 1),
        "wall_ratio": round(suite_wall / st_wall, 2) if st_wall else None,
        **_compared(suite_pairs, set(union)),
    }


def _compared(suite: set[Pair], st: set[Pair]) -> dict[str, Any]:
    """The findings of each tool, counted, and those only one of them found."""
    return {
        "findings": {"suite": len(suite), "st": len(st)},
        "only_suite": sorted(suite - st),
        "only_st": sorted(st - suite),
    }


def totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per app over its seeds: the wall times summed (each tool's mean per seed), and the
    findings united."""
    out = []
    for app in dict.fromkeys(row["app"] for row in rows):
        mine = [row for row in rows if row["app"] == app]
        suite_s = sum(row["suite_wall_s_mean"] for row in mine)
        st_s = sum(row["st_wall_s_mean"] for row in mine)
        suite_pairs = {tuple(pair) for row in mine for pair in row["suite_pairs"]}
        st_pairs = {tuple(pair) for row in mine for pair in row["st_pairs_union"]}
        out.append(
            {
                "app": app,
                "seeds": [row["seed"] for row in mine],
                "suite_wall_s": round(suite_s, 1),
                "st_wall_s": round(st_s, 1),
                "wall_ratio": round(suite_s / st_s, 2) if st_s else None,
                **_compared(suite_pairs, st_pairs),
            }
        )
    return out


def print_table(rows: list[dict[str, Any]], summed: list[dict[str, Any]]) -> None:
    print()
    runs = len(rows[0]["suite"]) if rows else 2
    each = "(1, 2)" if runs == 2 else f"(1..{runs})" if runs > 2 else ""
    head = (
        f"{'app':<10} {'seed':>4} {'suite s ' + each:>15} {'st s ' + each:>12} {'wall x':>7}"
        f" {'findings':>9}  bugs hit"
    )
    print(head)
    print("-" * (len(head) + 20))
    for row in rows:
        mine = ", ".join(f"{run['wall_s']:.1f}" for run in row["suite"])
        walls = ", ".join(f"{run['wall_s']:.1f}" for run in row["st"])
        found = f"{row['findings']['suite']} / {row['findings']['st']}"
        hits = (
            len({h for run in row["suite"] for h in run["hits"]}),
            len({h for run in row["st"] for h in run["hits"]}),
        )
        print(
            f"{row['app']:<10} {row['seed']:>4} {mine:>15} {walls:>12} "
            f"{row['wall_ratio']:>7.2f} {found:>9}  {hits[0]} / {hits[1]} of"
            f" {len(row['planted'])}"
        )
        _differences(row)
    if any(len(total["seeds"]) > 1 for total in summed):
        print()
        for total in summed:
            found = f"{total['findings']['suite']} / {total['findings']['st']}"
            print(
                f"{total['app']:<10} {'all':>4} {total['suite_wall_s']:>15.1f}"
                f" {total['st_wall_s']:>12.1f} {total['wall_ratio']:>7.2f} {found:>9}"
            )
            _differences(total)
    print(
        "(wall x: the suite's mean over st's mean, or their sums over the seeds; findings:"
        " distinct (operationId, check) pairs, each tool's union over its runs (and the"
        " seeds); bugs hit: planted bugs that acted)"
    )


def _differences(row: dict[str, Any]) -> None:
    for side in ("only_suite", "only_st"):
        if row[side]:
            print(
                f"{'':<10} {side.replace('_', ' ')}: "
                + ", ".join(f"{op} {check}" for op, check in row[side])
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        help="a seed of the runs (default 1; again for more: a row each, and a sum per app)",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gate")
    parser.add_argument(
        "--runs",
        type=int,
        default=2,
        choices=range(1, 11),
        metavar="N",
        help="runs of each tool at each seed, in turns (default 2; at most 10)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per tool process")
    parser.add_argument("--app", action="append", choices=FUZZED, help="(default: all)")
    parser.add_argument(
        "--clean",
        action="store_true",
        help="the apps without their bugs: the speed where neither tool finds a failure",
    )
    parser.add_argument(
        "--same-operations",
        action="store_true",
        help="st leaves out what the suite left out (its reset): both test the same operations",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    try:
        rows = [
            compare(ZOO[name], argparse.Namespace(**{**vars(args), "seed": seed}))
            for name in args.app or FUZZED
            for seed in args.seed or [1]
        ]
    except BenchError as error:
        print(f"zoo_vs_st: {error}", file=sys.stderr)
        return 1
    summed = totals(rows)
    print_table(rows, summed)
    out = ROOT / "reports" / ("bench-zoo-clean.json" if args.clean else "bench-zoo.json")
    report = {
        "seeds": args.seed or [1],
        "runs": args.runs,
        "planted": not args.clean,
        "same_operations": args.same_operations,
        "profile": args.profile,
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(load, 2),
        "rows": rows,
        "totals": summed,
    }
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
