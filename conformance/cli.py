"""The ``conformance`` command: argument parsing and exit codes, nothing else.

Every command returns an `ExitCode`; every error the user can cause is a `ConformanceError`
whose message is printed as one line. A traceback is shown only with ``CONFORMANCE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from conformance import __version__
from conformance.config import RUN_OPTIONS
from conformance.contract import BUNDLED_APIS, bundled_spec
from conformance.errors import ConformanceError, ExitCode, SpecError, UsageError


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors end with exit code 3, as documented."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


#: the subcommands' parsers (argparse's own type, private in name only: typeshed spells it so)
_Commands = argparse._SubParsersAction


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="conformance",
        description="API contract-testing and conformance suite.",
    )
    parser.add_argument("--version", action="version", version=f"conformance {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for add in (
        _init_parser,
        _lint_parser,
        _diff_parser,
        _run_parser,
        _merge_parser,
        _report_parser,
        _selftest_parser,
        _serve_parser,
    ):
        add(commands)
    return parser


def _init_parser(commands: _Commands[_Parser]) -> None:
    init = commands.add_parser(
        "init",
        help="draft an OpenAPI Overlay of the contract's declarations from a spec (exit 0, 3)",
        description=(
            "Read a spec without (or with few) x- declarations and draft the ones it lacks as an"
            " OpenAPI Overlay 1.0 file: the auth flow, the roles, latency budgets, references,"
            " unique values and owners, each action saying why it was inferred, and what could"
            " not be inferred listed at its end. With --target, the drafted login is tried once"
            " (login, refresh, logout of that session) with the credentials of"
            " CONFORMANCE_<NAME>_USERNAME and _PASSWORD or the credentials file. Prints what was"
            " drafted and the conformance run command to use it with. Exit 0, or 3 for bad"
            " input (an unreadable spec, an existing file without --force)."
        ),
    )
    init.add_argument("--spec", type=Path, required=True, metavar="FILE", help="the spec")
    init.add_argument(
        "--target",
        default=None,
        metavar="[NAME=]URL",
        help="the API's base URL, to confirm the login against; NAME picks the credential"
        " variables (default: the spec file's name up to its first dot)",
    )
    init.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="where to write the overlay (default: conformance.overlay.yaml)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing --out file")
    init.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="settings naming a credentials file (default: ./conformance.toml when present)",
    )


def _lint_parser(commands: _Commands[_Parser]) -> None:
    lint = commands.add_parser(
        "lint",
        help="hold OpenAPI specs to the contract (exit 0 clean, 1 findings, 3 bad input)",
        description=(
            "Validate each spec as OpenAPI 3.0/3.1, then against the contract rules of"
            " CONTRACT.md. One line per problem: file:line, JSON pointer, rule, what is wrong,"
            " the fix. Exit 0 clean, 1 findings, 3 a file that is not a readable OpenAPI spec."
        ),
    )
    lint.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        type=Path,
        help=f"spec files (default: the bundled {' and '.join(BUNDLED_APIS)} specs)",
    )
    lint.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    lint.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULE",
        help="skip a rule, by id or name (repeatable, or comma separated)",
    )
    lint.add_argument(
        "--overlay",
        type=Path,
        default=None,
        metavar="FILE",
        help="an OpenAPI Overlay 1.0 file applied to the SPEC first (its x- declarations);"
        " an action that changes nothing is a finding (CT005)",
    )
    lint.add_argument("--verbose", action="store_true", help="show every note")
    lint.add_argument("--list-rules", action="store_true", help="list the rules and exit")


def _diff_parser(commands: _Commands[_Parser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="will the NEW spec break clients built on the OLD one? (exit 0, 1 breaking, 3)",
        description=(
            "Compare two specs as the clients built on the old one meet the new one: every"
            " change classified breaking, warning or info by a rule of the catalogue, grouped"
            " by operation. OLD and NEW are files or git revisions (main:specs/api.yaml), with"
            " the overlay conformance.toml names for them applied. Accepted changes are waived"
            " in waivers.toml's [[diff-waiver]] section. With --target, requests made from OLD's"
            " schemas are replayed against the new backend and judged by OLD's answers. Exit 0"
            " nothing breaking, 1 a breaking change (or a warning with --fail-on warning, or an"
            " expired diff waiver), 3 bad input."
        ),
    )
    diff.add_argument("old", nargs="?", metavar="OLD", help="the old spec: FILE or REV:PATH")
    diff.add_argument("new", nargs="?", metavar="NEW", help="the new spec: FILE or REV:PATH")
    diff.add_argument(
        "--overlay",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="an OpenAPI Overlay applied to both specs after their configured one (repeatable)",
    )
    diff.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="the settings naming each spec's overlay (default: ./conformance.toml)",
    )
    diff.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (markdown: a CI job summary)",
    )
    diff.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the output there (the terminal still gets the text)",
    )
    diff.add_argument(
        "--fail-on",
        choices=("breaking", "warning"),
        default="breaking",
        help="the least class of change that fails (default: breaking)",
    )
    diff.add_argument(
        "--waivers",
        type=Path,
        default=None,
        metavar="FILE",
        help="[[diff-waiver]] entries (default: ./waivers.toml when present)",
    )
    diff.add_argument(
        "--target",
        default=None,
        metavar="[NAME=]URL",
        help="the new backend: replay requests made from OLD's schemas and judge"
        " the answers by OLD; secured operations with CONFORMANCE_<NAME>_TOKEN (NAME: NEW's"
        " file name up to its first dot)",
    )
    diff.add_argument(
        "--environment",
        choices=("shared", "disposable"),
        default="shared",
        help="--target's: shared (GETs only, the default) or disposable (writes)",
    )
    diff.add_argument(
        "--max-requests",
        type=int,
        default=200,
        metavar="N",
        help="--target's bound on requests (default: 200)",
    )
    diff.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="--target's bound on time (default: 60)",
    )
    diff.add_argument("--list-rules", action="store_true", help="list the change rules and exit")


def _run_parser(commands: _Commands[_Parser]) -> None:
    """``conformance run``: the targets and the config file, then a flag for each run setting
    that has one (`config.RUN_OPTIONS`, declared once), then ``--list-rules``."""
    run = commands.add_parser(
        "run",
        help="test backends against their specs and give the gate verdict (exit 0/1/2/3)",
        description=(
            "Fuzz every operation of each target's spec with schemathesis and judge it against"
            " the contract. Without --target, start the embedded reference backend and test both"
            " APIs. Settings come from conformance.toml, then the environment, then these flags."
            " Credentials come from the environment (CONFORMANCE_<API>_USERNAME and _PASSWORD, or"
            " CONFORMANCE_<API>_TOKEN) or the credentials file the config names, never flags."
            " Other arguments go to pytest (-k, -x, -n 2, --lf). Exit 0 conforms, 1 contract"
            " violations, 2 the run broke, 3 bad input."
        ),
    )
    run.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="API=URL",
        help="gloria=URL, tchat=URL, or URL with --spec (repeatable)",
    )
    run.add_argument(
        "--spec", type=Path, default=None, metavar="FILE", help="the spec of --target URL"
    )
    run.add_argument(
        "--overlay",
        type=Path,
        default=None,
        metavar="FILE",
        help="an OpenAPI Overlay 1.0 file applied to the --spec FILE before anything reads it"
        ' (a target of conformance.toml: overlay = "FILE" in its table)',
    )
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="settings (default: ./conformance.toml when present; see conformance.example.toml)",
    )
    for option in RUN_OPTIONS:
        if option.flag is not None:
            run.add_argument(
                option.flag, dest=option.key, help=option.help, **option.flag_arguments()
            )
    run.add_argument(
        "--list-rules",
        action="store_true",
        help="print which rules apply to which operations of each API, and why, and which are"
        " off and why; then exit 0 (no backend started, no request sent)",
    )


def _merge_parser(commands: _Commands[_Parser]) -> None:
    merge = commands.add_parser(
        "merge",
        help="join the reports of the shards of a run into one verdict (exit 0/1/2/3)",
        description=(
            "Read verdict.json from each DIR (the --reports of each shard), write one verdict.json"
            " and junit.xml into --reports, and exit as the whole run would have: 0 conforms, 1"
            " contract violations, 2 broken (a shard missing too), 3 bad input."
        ),
    )
    merge.add_argument("directories", nargs="+", type=Path, metavar="DIR")
    merge.add_argument(
        "--reports", type=Path, default=Path("reports"), metavar="DIR", help="(default: reports)"
    )


def _report_parser(commands: _Commands[_Parser]) -> None:
    report = commands.add_parser(
        "report",
        help="generate the HTML report from a run's Allure results (exit 0, or 3 with why not)",
        description=(
            "Generate one self-contained HTML page, DIR/allure-report/index.html, from the Allure"
            " results of a run (several folders are merged, e.g. the shards of a run) with Allure"
            " 3's generator (npm package allure, pinned in package.json; `make report` installs"
            " it). It opens from file:// and loads nothing from any host. Each report adds to the"
            " trend kept in DIR/allure-history.jsonl. `conformance run` does this at its end."
        ),
    )
    report.add_argument(
        "results",
        nargs="*",
        type=Path,
        metavar="RESULTS",
        help="Allure results folders (default: DIR/allure-results)",
    )
    report.add_argument(
        "--reports", type=Path, default=Path("reports"), metavar="DIR", help="(default: reports)"
    )
    report.add_argument(
        "--name", default="API conformance", help="the report's title (default: API conformance)"
    )


def _selftest_parser(commands: _Commands[_Parser]) -> None:
    selftest = commands.add_parser(
        "selftest",
        help="prove the suite's teeth: the clean reference backend passes, each defect fails",
        description=(
            "Run the suite against the embedded reference backend as it is (each API must pass)"
            " and with each defect switched on, one at a time (each must fail by one of the"
            " rules it breaks), the suite not told what is broken. Prints the matrix (defect;"
            " caught by one of its own rules, stray (failed by other rules only) or missed; the"
            " rules and operations that reported it; seconds to the verdict), writes"
            " DIR/selftest.json, each run's reports under DIR/selftest/, and Allure results of"
            " the matrix. Exit 0 when the clean runs pass and every defect is caught by its own"
            " rules, 1 when not, 2 when a run broke."
        ),
    )
    selftest.add_argument(
        "--reports", type=Path, default=Path("reports"), metavar="DIR", help="(default: reports)"
    )
    selftest.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="only this defect (and the clean run of its API); repeatable (default: all)",
    )
    selftest.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="runs at a time (default: the number of CPUs)",
    )
    selftest.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help="run each N times, each with its own seed, and report the flake rate (default 1)",
    )
    selftest.add_argument(
        "--soak",
        action="store_true",
        help="20 runs of each clean API and each timing or concurrency defect; DIR/soak.json",
    )
    selftest.add_argument(
        "--burn",
        action="store_true",
        help="beside one busy process per CPU for the whole run, so that it shows what holds on"
        " a slow machine (they stop with it, and by themselves when it cannot still be running)",
    )
    selftest.add_argument(
        "--thorough",
        action="store_true",
        help="run each job to its end, every rule that reports a defect in the matrix (default:"
        " each job stops at its first failure, as conformance run --fail-fast)",
    )
    selftest.add_argument("--profile", default=None, help=argparse.SUPPRESS)
    selftest.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    selftest.add_argument(
        "-k",
        dest="select",
        default=None,
        metavar="EXPR",
        help="narrow every run alike with a pytest -k expression (default: the whole suite)",
    )
    selftest.add_argument("--job", default=None, help=argparse.SUPPRESS)  # inside a job's process
    selftest.add_argument("--api", default=None, help=argparse.SUPPRESS)


def _serve_parser(commands: _Commands[_Parser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the embedded reference backend on loopback ports (Ctrl-C stops)",
        description=(
            "Serve the reference backend of the bundled specs, spec-first on SQLite, until"
            " Ctrl-C or SIGTERM. Prints each API's base URL. With --port P, `all` serves gloria"
            " on P and tchat on P + 1; without it, free ports are chosen."
        ),
    )
    serve.add_argument(
        "api", nargs="?", default="all", choices=(*BUNDLED_APIS, "all"), help="what to serve"
    )
    serve.add_argument(
        "--overlay",
        type=Path,
        default=None,
        metavar="FILE",
        help="an OpenAPI Overlay 1.0 file applied to the API's spec before it is served"
        " (one API: conformance serve tchat --overlay FILE)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="the first port (default: free ones)")
    serve.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep the data in this SQLite file (default: a temporary one, gone on exit)",
    )
    serve.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a TOML file whose [reference] table sets rate limits and token lifetimes",
    )
    serve.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="SCOPE=LIMIT/WINDOW",
        help=(
            "override the spec's x-rate-limit: SCOPE is default, role:NAME or operation:ID"
            " (e.g. role:staff=10/5: 10 requests per 5 s); repeatable"
        ),
    )
    serve.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a defect that breaks one contract rule (for the self-test); repeatable",
    )
    serve.add_argument(
        "--list-defects", action="store_true", help="list the defects, one a line, and exit"
    )
    serve.add_argument(
        "--token-lifetime",
        action="append",
        default=[],
        metavar="SCOPE=SECONDS",
        help=(
            "access-token lifetime (default 900 s): SCOPE is default, role:NAME or"
            " principal:NAME (a seeded name or an email); repeatable"
        ),
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65534:
        raise argparse.ArgumentTypeError(f"{port} is not a port number from 0 to 65534")
    return port


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import reference

    if args.list_defects:
        for defect in reference.DEFECTS:
            out.write(defect.line() + "\n")
        return ExitCode.OK
    apis = list(BUNDLED_APIS) if args.api == "all" else [args.api]
    settings = reference.Settings()
    if args.config is not None:
        settings = reference.Settings.from_file(args.config)
    flags = reference.Settings.from_flags(args.rate_limit, args.token_lifetime, args.defect)
    settings = settings.merged(flags)
    if args.overlay is not None:
        if len(apis) != 1:
            raise UsageError(
                "conformance serve --overlay FILE: an overlay is written for one API's spec; name"
                f" it (conformance serve {BUNDLED_APIS[-1]} --overlay FILE)"
            )
        settings = dataclasses.replace(settings, overlays={apis[0]: args.overlay})
    reference.serve(apis, args.host, args.port, args.db, out, settings)
    return ExitCode.OK


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import runner

    options = runner.RunOptions(
        targets=args.target,
        spec=args.spec,
        overlay=args.overlay,
        config=args.config,
        given={option.key: getattr(args, option.key) for option in RUN_OPTIONS if option.flag},
        list_rules=args.list_rules,
        pytest_args=args.pytest_args,
    )
    return runner.execute(options, out, err)


def _merge(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import runner

    return runner.merge(args.directories, args.reports, out, err)


def _report(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import reporting

    page = reporting.generate_report(args.reports, args.results, name=args.name)
    out.write(f"conformance: HTML report: {page}\n")
    return ExitCode.OK


def _selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import selftest

    options = selftest.Options(
        reports=args.reports,
        defects=args.defect,
        jobs=args.jobs,
        profile=args.profile,
        seed=args.seed,
        select=args.select,
        repeat=args.repeat,
        soak=args.soak,
        thorough=args.thorough,
        burn=args.burn,
    )
    if args.job is not None:  # one run, in its own process
        return selftest.one(args.job, args.api, options, out, err)
    return selftest.command(options, out, err)


def _init(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import drafting

    options = drafting.InitOptions(
        spec=args.spec,
        target=args.target,
        out=args.out or drafting.DEFAULT_OUT,
        force=args.force,
        config=args.config,
    )
    return drafting.command(options, out)


def _diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import diffing

    if args.list_rules:
        for line in diffing.format_rules():
            out.write(line + "\n")
        return ExitCode.OK
    if args.old is None or args.new is None:
        raise UsageError(
            "conformance diff: give OLD and NEW (files or REV:PATH), e.g."
            " conformance diff main:specs/api.yaml specs/api.yaml"
        )
    api, target = None, args.target
    if target is not None and "=" in target.split("://")[0]:  # NAME=URL names the API
        api, _, target = target.partition("=")
    if target is not None and not target.startswith(("http://", "https://")):
        raise UsageError(f"--target {args.target}: the URL must start with http:// or https://")
    if args.max_requests < 1 or args.max_seconds <= 0:
        raise UsageError("--max-requests and --max-seconds must be positive")
    options = diffing.DiffOptions(
        old=args.old,
        new=args.new,
        overlays=tuple(args.overlay),
        config=args.config,
        format=args.format,
        output=args.output,
        fail_on=diffing.ChangeClass(args.fail_on),
        waivers=args.waivers,
        target=target,
        api=api,
        environment=args.environment,
        max_requests=args.max_requests,
        max_seconds=args.max_seconds,
    )
    return diffing.command(options, out)


def _lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from conformance import lint

    if args.list_rules:
        for line in lint.format_rules():
            out.write(line + "\n")
        return ExitCode.OK
    ignore = [key.strip() for value in args.ignore for key in value.split(",") if key.strip()]
    for key in ignore:
        if lint.rule_by_key(key) is None:
            raise UsageError(
                f"--ignore {key!r} is not a rule id or name; `conformance lint --list-rules` lists"
                " them"
            )
    paths = args.specs or [bundled_spec(api) for api in BUNDLED_APIS]
    if args.overlay is not None and len(args.specs) != 1:
        raise UsageError(
            "conformance lint --overlay FILE: an overlay is written for one spec; give that one"
            " (conformance lint SPEC --overlay FILE)"
        )
    overlays = [args.overlay] if args.overlay is not None else []
    results: list[lint.LintResult] = []
    errors: list[str] = []
    for path in paths:
        try:
            results.append(lint.lint_path(path, ignore=ignore, overlays=overlays))
        except SpecError as exc:
            errors.append(str(exc))
            err.write(f"conformance lint: {exc}\n")
    if args.format == "json":
        out.write(lint.as_json(results, errors) + "\n")
    else:
        for line in lint.format_text(results, verbose=args.verbose):
            out.write(line + "\n")
        if results:
            out.write(lint.summary(results) + "\n")
    if errors:
        return ExitCode.BAD_INPUT
    return ExitCode.FAILED if any(result.failed for result in results) else ExitCode.OK


def run(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run the command line ``argv``; returns the exit code."""
    try:
        args, extra = _build_parser().parse_known_args(argv)
        if extra and args.command != "run":
            raise UsageError(
                f"conformance {args.command}: unrecognized arguments: {' '.join(extra)}"
                f" (see conformance {args.command} --help)"
            )
        args.pytest_args = extra
        signals = sys.modules.get("conformance.suite._signals")
        if signals is not None:
            signals.forget_interrupt()
        command = {
            "init": _init,
            "lint": _lint,
            "diff": _diff,
            "serve": _serve,
            "run": _run,
            "merge": _merge,
            "report": _report,
            "selftest": _selftest,
        }[args.command]
        return int(command(args, out, err))
    except ConformanceError as exc:
        err.write(f"{exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err.write("conformance: interrupted\n")
        return 130
    except Exception as exc:
        if os.environ.get("CONFORMANCE_DEBUG"):
            raise
        signals = sys.modules.get("conformance.suite._signals")
        if signals is not None and signals.interrupted():  # the Ctrl-C surfaced as another error
            err.write(
                f"conformance: interrupted (it surfaced as {type(exc).__name__}: {exc}); what"
                " was judged before the stop is in the reports\n"
            )
            return int(ExitCode.TARGET_BROKEN)
        err.write(
            f"conformance: internal error: {type(exc).__name__}: {exc} (this is a bug; set"
            " CONFORMANCE_DEBUG=1 for the traceback and report it)\n"
        )
        return int(ExitCode.BAD_INPUT)


def main() -> NoReturn:
    """The console script's entry point."""
    code = run()
    # what the run built (schemathesis's schemas, hypothesis's caches) is left for the OS to
    # reclaim: the interpreter's last collections over it took 0.3 s of a 9 s run (reports and
    # files are written and closed by now; atexit handlers still run)
    gc.freeze()
    sys.exit(code)
