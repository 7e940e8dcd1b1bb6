"""``conformance run``: resolve the targets (or start the embedded reference backend), check that
they answer, run pytest over the suite with the plugin, and turn its outcome into the documented
exit code with one sentence of why.

Exit codes (DESIGN.md): 0 the targets conform; 1 contract violations; 2 a target could not be
reached or broke the run (wins over 1); 3 usage, configuration or spec error.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from conformance import config
from conformance.config import Settings
from conformance.contract import BUNDLED_APIS, RateLimit, Spec, bundled_spec, load_spec
from conformance.errors import ConfigError, ConformanceError, ExitCode, UsageError
from conformance.reporting import plural

if TYPE_CHECKING:
    from conformance.reference import Settings as ReferenceSettings


#: what the embedded backend is told when `run` starts it: the run's own principal must not be
#: throttled by its own fuzzing, nor its anonymous requests (public operations, the probes of
#: ``ignored_auth``: counted per client address under the default limit). Login keeps the
#: contract's limit: the run logs in once per API and worker, plus its throwaway sessions.
#: The scenarios' throwaway accounts (``staff``, the least privileged role) get a short window
#: and short-lived tokens, so that exhausting a limit and waiting out an expiry take seconds.
EMBEDDED_RATE_LIMITS = {
    "default": RateLimit(1_000_000, 60),
    "role:service": RateLimit(1_000_000, 60),
    "role:staff": RateLimit(10, 2),
}
EMBEDDED_TOKEN_LIFETIMES = {"role:staff": 5}


class TargetUnreachable(ConformanceError):
    exit_code = ExitCode.TARGET_BROKEN


@dataclass
class RunOptions:
    """What the command line said; None: not given (the config file or the environment may)."""

    targets: list[str] = field(default_factory=list)
    spec: Path | None = None
    config: Path | None = None
    profile: str | None = None
    seed: int | None = None
    reports: Path | None = None
    read_only: bool | None = None
    exclude_singletons: bool | None = None
    fail_fast: bool | None = None
    require_exercised: bool | None = None
    request_timeout_s: float | None = None
    run_timeout_s: float | None = None
    tls_verify: bool | None = None
    ca_bundle: Path | None = None
    proxy: str | None = None
    #: "K/N": this run tests the K-th of N shares of the operations
    shard: str | None = None
    #: the waivers file (None: ``waivers.toml`` in the current directory, when there is one)
    waivers: Path | None = None
    html_report: bool | None = None
    #: print which rules apply to which operations, and exit (no backend, no request)
    list_rules: bool = False
    pytest_args: list[str] = field(default_factory=list)

    def settings(self) -> Settings:
        from conformance.suite.scenarios import NAMES

        return config.load(
            self.config,
            known_scenarios=NAMES,
            profile=self.profile,
            seed=self.seed,
            reports=self.reports,
            read_only=self.read_only,
            exclude_singletons=self.exclude_singletons,
            fail_fast=self.fail_fast,
            require_exercised=self.require_exercised,
            request_timeout_s=self.request_timeout_s,
            run_timeout_s=self.run_timeout_s,
            tls_verify=self.tls_verify,
            ca_bundle=self.ca_bundle,
            proxy=self.proxy,
            html_report=self.html_report,
        )


def _name_of(spec: Path) -> str:
    stem = spec.name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "api"


def resolve_targets(options: RunOptions, settings: Settings) -> dict[str, tuple[str, Path]]:
    """name -> (url, spec): the config's targets, then ``--target`` and ``--spec``."""
    targets: dict[str, tuple[str, Path]] = {}
    for name, target in settings.targets.items():
        if target.spec is None and name not in BUNDLED_APIS:
            raise UsageError(
                f"{settings.source}: target {name!r} has no spec and no bundled spec is called"
                f' {name!r}; add spec = "FILE" to [targets.{name}]'
            )
        spec = target.spec or bundled_spec(name)
        load_spec(spec)
        targets[name] = (target.url, spec)
    given: set[str] = set()
    for value in options.targets:
        name, sep, url = value.partition("=")
        if not sep:  # a bare URL: the target of --spec
            if options.spec is None:
                raise UsageError(
                    f"--target {value}: name the API (--target gloria=URL, --target tchat=URL), or"
                    " give its spec with --spec FILE"
                )
            name, url = _name_of(options.spec), value
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--target {value}: the URL must start with http:// or https://")
        if name in given:
            raise UsageError(f"--target {name} is given twice")
        given.add(name)
        if options.spec is not None and not sep:
            spec = options.spec
        elif name in BUNDLED_APIS:
            spec = bundled_spec(name)
        else:
            raise UsageError(
                f"--target {name}=…: no bundled spec is called {name!r}; use --spec FILE --target"
                " URL for any other OpenAPI API"
            )
        load_spec(spec)  # a spec that cannot be read ends the run here, in one line
        targets[name] = (url.rstrip("/"), spec)
    if options.spec is not None and not any(spec == options.spec for _, spec in targets.values()):
        raise UsageError("--spec FILE needs the URL of its backend: --target URL")
    return targets


def check_reachable(name: str, url: str, settings: Settings) -> None:
    from conformance.suite import Network

    network = Network(min(settings.request_timeout_s, 10.0), settings.tls, settings.proxy)
    try:
        with httpx.Client(**network.httpx_options()) as client:
            client.get(url)
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc):
            raise TargetUnreachable(
                f"conformance: the {name} target at {url} failed TLS verification ({exc}); give"
                " its CA with --ca-bundle FILE (or ca_bundle in conformance.toml), or --insecure"
            ) from None
        raise TargetUnreachable(
            f"conformance: the {name} target at {url} cannot be reached ({exc}); is it running?"
        ) from None
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            f"conformance: the {name} target at {url} cannot be reached ({exc}); is it running?"
        ) from None


def check_credentials(name: str, url: str, spec: Path, settings: Settings) -> None:
    """Log in once before the run, so wrong credentials are one line (exit 3) and not a run of
    errors. (The run's own session logs in again: one login more per API.)"""
    from conformance.suite import Credentials, Network, sign_in

    secrets = config.credentials(name, settings)
    if secrets.token:
        return
    loaded = load_spec(spec)
    if not (secrets.username and secrets.password):
        missing_credentials(name, loaded, secrets)
        return
    network = Network(settings.request_timeout_s, settings.tls, settings.proxy)
    credentials = Credentials(name, secrets.token, secrets.username, secrets.password)
    credentials.register()
    if loaded.declarations.auth_flow is None:
        return
    sign_in(loaded, url, credentials, network)


def missing_credentials(name: str, spec: Spec, secrets: config.Secrets) -> None:
    """A run with no (or half the) credentials for an API whose operations need them would be
    one 401 after another and a verdict of "not exercised": one sentence (exit 3) instead."""
    guarded = [operation for operation in spec.operations if operation.needs_credentials]
    if not guarded:
        return
    variable = f"CONFORMANCE_{name.upper()}"
    if secrets.username or secrets.password:
        given, absent = ("USERNAME", "PASSWORD") if secrets.username else ("PASSWORD", "USERNAME")
        raise ConfigError(
            f"{name}: {variable}_{given} is set but {variable}_{absent} is not; set both"
            f" (or {variable}_TOKEN)"
        )
    raise ConfigError(
        f"{name}: the spec's operations need authentication ({len(guarded)} of"
        f" {len(spec.operations)}) and no credentials are set; set {variable}_USERNAME and"
        f" {variable}_PASSWORD (or {variable}_TOKEN, or [{name}] in the credentials file)"
    )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def embedded_settings() -> ReferenceSettings:
    """The embedded backend's settings (`EMBEDDED_RATE_LIMITS`, `EMBEDDED_TOKEN_LIFETIMES`)."""
    from conformance import reference

    return reference.Settings(
        rate_limits=EMBEDDED_RATE_LIMITS, token_lifetimes=EMBEDDED_TOKEN_LIFETIMES
    )


@contextlib.contextmanager
def embedded(
    out: TextIO,
    apis: Sequence[str] = BUNDLED_APIS,
    settings: ReferenceSettings | None = None,
) -> Iterator[dict[str, tuple[str, Path]]]:
    """The reference backend's ``apis`` (default: both) on free loopback ports, with
    ``settings`` (default: `embedded_settings`), and the run's credentials in the environment."""
    from conformance import reference

    settings = embedded_settings() if settings is None else settings
    with reference.running(apis, settings=settings) as backends:
        credentials = {}
        targets = {}
        for api in apis:
            service = backends.backend(api).credentials["service"]
            credentials[f"CONFORMANCE_{api.upper()}_USERNAME"] = service.email
            credentials[f"CONFORMANCE_{api.upper()}_PASSWORD"] = service.password
            targets[api] = (backends.url(api), bundled_spec(api))
            out.write(f"conformance: the reference backend serves {api} at {backends.url(api)}\n")
        out.flush()
        with _environment(credentials):
            yield targets


def waivers_file(options: RunOptions) -> Path | None:
    """The waivers of the run: ``--waivers FILE``, else ``waivers.toml`` here, if any."""
    from conformance.suite import DEFAULT_WAIVERS_FILE

    if options.waivers is not None:
        return options.waivers
    return DEFAULT_WAIVERS_FILE if DEFAULT_WAIVERS_FILE.is_file() else None


def check_waivers(options: RunOptions) -> None:
    """A bad waivers file is a config error before anything runs (exit 3)."""
    from conformance.suite import known_rules, parse_waivers

    path = waivers_file(options)
    if path is None:
        return
    if not path.is_file():
        raise ConfigError(f"--waivers {path}: no such file")
    parse_waivers(path, config.read_toml(path), known_rules())


def pytest_arguments(
    targets: dict[str, tuple[str, Path]], options: RunOptions, settings: Settings
) -> list[str]:
    """The plugin's options for the resolved settings (xdist workers parse them again)."""
    from conformance.suite import TESTS_DIR

    arguments = [
        str(TESTS_DIR),
        "-c", str(TESTS_DIR / "pytest.ini"),
        "--rootdir", str(Path.cwd()),
        "--conformance-profile", settings.profile,
        "--conformance-reports", str(settings.reports),
        "--conformance-request-timeout", str(settings.request_timeout_s),
    ]  # fmt: skip
    if settings.run_timeout_s is not None:  # the engine and scenarios stop there (workers too)
        arguments += ["--conformance-run-timeout", str(settings.run_timeout_s)]
    if options.config is not None or config.DEFAULT_FILE.is_file():
        # the credentials file and the scenario switches come from there
        arguments += ["--conformance-config", str(options.config or config.DEFAULT_FILE)]
    for name, (url, spec) in targets.items():
        arguments += [
            "--conformance-target",
            f"{name}={url}",
            "--conformance-spec",
            f"{name}={spec}",
        ]
    if settings.seed is not None:
        arguments += ["--conformance-seed", str(settings.seed)]
    if settings.read_only:
        arguments.append("--conformance-read-only")
    if settings.exclude_singletons:
        arguments.append("--conformance-exclude-singletons")
    if settings.fail_fast:  # pytest stops after the first failed test too
        arguments += ["--conformance-fail-fast", "-x"]
    if settings.require_exercised:
        arguments.append("--conformance-require-exercised")
    if not settings.tls_verify:
        arguments.append("--conformance-insecure")
    if settings.ca_bundle is not None:
        arguments += ["--conformance-ca-bundle", str(settings.ca_bundle)]
    if settings.proxy:
        arguments += ["--conformance-proxy", settings.proxy]
    if options.shard:
        arguments += ["--conformance-shard", options.shard]
    waivers = waivers_file(options)
    if waivers is not None:
        arguments += ["--conformance-waivers", str(waivers)]
    if not _own_alluredir(options):
        # Allure results of this run only (the HTML report keeps the history)
        results = settings.reports / "allure-results"
        arguments += ["--alluredir", str(results), "--clean-alluredir"]
    return arguments + workers(len(targets), options.pytest_args) + list(options.pytest_args)


def workers(apis: int, pytest_args: list[str], cpus: int | None = None) -> list[str]:
    """Fast by default: an xdist worker per API, up to the CPUs (an API's engine runs in one
    worker, so more would idle), unless the arguments choose (``-n``, ``--dist``, ``-p
    no:xdist``; ``-n 0`` runs in this process)."""
    chosen = any(
        arg.startswith(("-n", "--numprocesses", "--dist", "-d")) or arg == "no:xdist"
        for arg in pytest_args
    )
    count = min(apis, cpus if cpus is not None else os.cpu_count() or 1)
    return [] if chosen or count < 2 else ["-n", str(count)]


def _own_alluredir(options: RunOptions) -> bool:
    """Whether the user sent the Allure results elsewhere (then the report is theirs to make)."""
    return any(arg.startswith("--alluredir") for arg in options.pytest_args)


def html_report(reports: Path, out: TextIO, err: TextIO) -> Path | None:
    """The run's HTML report from ``reports/allure-results``, its trend kept in
    ``reports/allure-history.jsonl``; one line either way (a missing Node or generator is a hint,
    never a failed run: the results and the summary are on disk)."""
    from conformance.reporting import ReportFailed, ReportUnavailable, generate_report

    if not any((reports / "allure-results").glob("*-result.json")):
        return None  # nothing ran: nothing to report, and nothing to say
    try:
        page = generate_report(reports)
    except (ReportUnavailable, ReportFailed) as error:
        err.write(f"conformance: {error}\n")
        return None
    out.write(f"conformance: HTML report: {page}\n")
    return page


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[threading.Event]:
    """Interrupts the main thread (as Ctrl-C does) after ``seconds``; the event says whether it
    did. pytest then finishes its session, so the reports written so far stay."""
    expired = threading.Event()
    if seconds is None:
        yield expired
        return

    def expire() -> None:
        expired.set()
        _thread.interrupt_main()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()


def read_verdict(reports: Path) -> dict[str, Any] | None:
    """The run's verdict.json; None when it was not written (or cannot be read)."""
    try:
        document: dict[str, Any] = json.loads(
            (reports / "verdict.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    return document


def why(reports: Path) -> str:
    """One sentence on the verdict.json of the run."""
    document = read_verdict(reports)
    if document is None:
        return "no verdict was written"
    counts = document["counts"]
    parts = []
    if document.get("cut_short"):
        unjudged = sum(
            1
            for entry in [*document["operations"], *document.get("scenarios", [])]
            if str(entry.get("reason", "")).startswith("not reached")
        )
        parts.append(
            f"{document['cut_short']} ({unjudged} not reached; what was judged before is reported)"
        )
    for error in document.get("errors", []):
        if "crashed:" in error:
            parts.append(error)
    if counts["failed"]:
        # by_rule counts the scenarios' rules too: these are the operations' checks
        checks = {f["check"] for op in document["operations"] for f in op["failures"]}
        rules = ", ".join(
            f"{name} ({n})" for name, n in counts["by_rule"].items() if name in checks
        )
        parts.append(f"{plural(counts['failed'], 'operation')} broke the contract ({rules})")
    if document["not_exercised"]:
        untried = len(document["not_exercised"])
        parts.append(
            f"{untried} {'was' if untried == 1 else 'were'} never answered with a documented 2xx"
            + _only_404(document)
        )
    if counts["error"]:
        first = next(
            (error for op in document["operations"] for error in op["errors"]),
            (document.get("errors") or ["?"])[0],
        )
        parts.append(f"{counts['error']} could not be tested ({first})")
    scenarios = document.get("scenarios", [])
    for scenario in scenarios:
        if scenario["outcome"] == "failed":
            broken = sorted({f["rule"] for f in scenario["failures"]})
            parts.append(
                f"scenario {scenario['api']} {scenario['name']} failed"
                + (f" ({', '.join(broken)})" if broken else f": {scenario['reason']}")
            )
        elif scenario["outcome"] == "error":
            parts.append(
                f"scenario {scenario['api']} {scenario['name']} could not finish"
                f" ({scenario['reason']})"
            )
    for waiver in document.get("waivers", {}).get("expired", []):
        parts.append(f"{waiver['name']} expired on {waiver['expires']}")
    untested = counts.get("untested", 0)
    summary = "; ".join(parts) or (
        f"{plural(counts['passed'], 'operation')} passed, {untested} untested (never answered"
        " with a documented 2xx; --require-exercised makes that a failure)"
        if untested
        else "every operation conforms"
        if counts["operations"]
        else "every scenario passed"
    )
    if parts and untested:
        summary += f"; {untested} untested"
    waived = counts.get("waived", 0) + counts.get("scenarios", {}).get("waived", 0)
    if waived:
        summary += f" ({waived} waived)"
    stale = len(document.get("waivers", {}).get("stale", []))
    if stale:
        summary += f" ({stale} waiver{'s' if stale > 1 else ''} matched nothing)"
    skipped = counts.get("skipped", 0)
    tested = (
        f"of {plural(counts['operations'], 'operation')}"
        if not skipped
        else f"of {plural(counts['operations'] - skipped, 'operation')} tested ({skipped} skipped)"
    )
    ran = counts.get("scenarios", {})
    if scenarios:
        tested += f" and {plural(len(scenarios) - ran.get('skipped', 0), 'scenario')}"
        if ran.get("skipped"):
            tested += f" ({ran['skipped']} skipped)"
    return (
        f"{document['verdict'].upper()}: {summary}, {tested}"
        f" (seed {document['seed']}; {reports / 'verdict.json'})"
    )


def _only_404(document: dict[str, Any]) -> str:
    """A hint when an API answered almost nothing but 404 (9 in 10, and never a 2xx): its URL
    is likely not its base."""
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for operation in document.get("operations", []):
        seen[str(operation.get("api"))].update(
            {str(k): int(n) for k, n in operation.get("statuses", {}).items()}
        )
    urls = [
        str(target.get("url"))
        for target in document.get("targets", [])
        if (answers := seen.get(str(target.get("api"))))
        and answers["404"] >= 0.9 * answers.total()
        and not any(status.startswith("2") for status in answers)
    ]
    if not urls:
        return ""
    return f" (almost every answer was 404: is {' and '.join(urls)} the API's base URL?)"


def nothing_tested(reports: Path) -> str | None:
    """One sentence when the run skipped every operation and scenario it selected."""
    from conformance.suite import nothing_tested as skipped_everything

    document = read_verdict(reports)
    if document is None or not skipped_everything(document):
        return None
    operations = document.get("operations", [])
    scenarios = document.get("scenarios", [])
    reasons = sorted({str(entry.get("reason") or "?") for entry in [*operations, *scenarios]})
    untested = sum(1 for entry in operations if entry.get("outcome") == "untested")
    if not untested:
        what, fix = "skipped", "widen the selection (-k, -m)"
    else:
        what = (
            "untested" if untested == len(operations) and not scenarios else "skipped or untested"
        )
        fix = "check the target's URL and the run's credentials, or widen the selection (-k, -m)"
    return (
        f"nothing was tested: the {plural(len(operations), 'operation')} and"
        f" {plural(len(scenarios), 'scenario')}"
        f" selected were all {what} ({'; '.join(reasons)[:300]}); {fix}"
    )


#: operations named on a line of ``--list-rules`` (the rest are counted)
LISTED_OPERATIONS = 4


def list_rules(options: RunOptions, out: TextIO) -> ExitCode:
    """``conformance run --list-rules``: for each API of the run (its targets' specs, or the
    bundled ones), which rules apply to which operations and why, which are off and why; no
    backend is started and no request sent. ``--spec FILE`` needs no ``--target`` here."""
    settings = options.settings()
    bare = options.spec is not None and all("=" in value for value in options.targets)
    resolved = resolve_targets(replace(options, spec=None) if bare else options, settings)
    specs = {name: spec for name, (_, spec) in resolved.items()}
    if bare and options.spec is not None:
        specs[_name_of(options.spec)] = options.spec
    if not specs:
        specs = {api: bundled_spec(api) for api in BUNDLED_APIS}
    for n, (api, path) in enumerate(specs.items()):
        lines = rule_lines(api, path, load_spec(path), settings.require_exercised)
        out.write(("\n" if n else "") + "\n".join(lines) + "\n")
    return ExitCode.OK


def rule_lines(api: str, path: Path, spec: Spec, require_exercised: bool = False) -> list[str]:
    """One API's rules, a line each where a rule is on (or off) for every operation, else a line
    for each reason it is on or off, naming the operations."""
    from conformance.suite import applied_rules

    operations = spec.operations
    strict = (
        "x-contract: strict, so every contract rule applies to every operation"
        if spec.declarations.strict
        else "no x-contract: strict, so a contract rule applies where the spec declares what it"
        " checks"
    )
    lines = [f"{api}: {path} ({plural(len(operations), 'operation')}; {strict})"]
    by_rule: dict[str, list[tuple[str, bool, str]]] = {}
    rules = {}
    for operation in operations:
        for rule, applies in applied_rules(spec, operation, require_exercised=require_exercised):
            rules[rule.id] = rule
            by_rule.setdefault(rule.id, []).append((operation.label, applies.applies, applies.why))
    width = max((len(rule_id) for rule_id in rules), default=0)
    for rule_id, rule in rules.items():
        head = f"  {rule_id:<{width}}  {rule.severity:<9}"
        for n, text in enumerate(_rule_states(by_rule[rule_id], len(operations))):
            lines.append((head if n == 0 else " " * len(head)) + text)
    return lines


#: a reason about one documented response (`catalogue.applies`): "response 404 has no …"
_RESPONSE = re.compile(r"^response (\S+?)((?:'s)? .*)$")


def _reasons(whys: Iterable[str]) -> str:
    """Reasons that differ only in the response they name, as one ("response 200/201 has no
    X-Request-ID"), the others once each."""
    keys: dict[str, list[str]] = {}
    for why in whys:
        found = _RESPONSE.match(why)
        rest, key = (found.group(2), found.group(1)) if found else (why, "")
        named = keys.setdefault(rest, [])
        if key and key not in named:
            named.append(key)
    joined = [
        f"response {'/'.join(named)}{rest}" if named else rest for rest, named in keys.items()
    ]
    return "; ".join(joined[:3]) + (f"; and {len(joined) - 3} more" if len(joined) > 3 else "")


def _rule_states(found: list[tuple[str, bool, str]], total: int) -> list[str]:
    """``on for all 12 operations: why`` when one state holds everywhere; otherwise a line per
    state and reason with the operations it covers."""
    states = {applies for _, applies, _ in found}
    if len(states) == 1:
        state = "on" if states.pop() else "off"
        return [f"{state} for all {plural(total, 'operation')}: {_reasons(w for *_, w in found)}"]
    groups: dict[tuple[bool, str], list[tuple[str, str]]] = {}
    for label, applies, why in found:
        found_response = _RESPONSE.match(why)
        rest = found_response.group(2) if found_response else why
        groups.setdefault((applies, rest), []).append((label, why))
    lines = []
    for (applies, _), members in sorted(groups.items(), key=lambda item: not item[0][0]):
        labels = [label for label, _ in members]
        named = ", ".join(labels[:LISTED_OPERATIONS])
        if len(labels) > LISTED_OPERATIONS:
            named += f" and {len(labels) - LISTED_OPERATIONS} more"
        state = "on" if applies else "off"
        lines.append(f"{state} for {named}: {_reasons(why for _, why in members)}")
    return lines


#: how long past the run timeout the run may take to stop by itself (the engine winds down,
#: requests in flight end, cleanup runs) before it is interrupted as Ctrl-C would
STOP_GRACE_S = 60.0


def execute(options: RunOptions, out: TextIO, err: TextIO) -> ExitCode:
    import pytest

    from conformance.suite import exit_code, sigterm_interrupts

    if options.list_rules:
        return list_rules(options, out)
    settings = options.settings()
    check_waivers(options)
    targets = resolve_targets(options, settings)
    reports = settings.reports
    stack = contextlib.ExitStack()
    with stack:
        if not targets:
            targets = stack.enter_context(embedded(out))
        for name, (url, spec) in targets.items():
            check_reachable(name, url, settings)
            check_credentials(name, url, spec, settings)
        verdict = reports / "verdict.json"
        verdict.unlink(missing_ok=True)
        stack.enter_context(sigterm_interrupts())
        # the run stops itself at its timeout (the plugin's deadline, in every xdist worker);
        # this interrupt is the last resort for a run that cannot
        grace = settings.request_timeout_s + STOP_GRACE_S
        last_resort = None if settings.run_timeout_s is None else settings.run_timeout_s + grace
        with deadline(last_resort):
            try:
                code = pytest.main(pytest_arguments(targets, options, settings))
            except KeyboardInterrupt:  # the deadline struck outside pytest's own handling
                code = pytest.ExitCode.INTERRUPTED
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        err.write("conformance: no operation matched the selection (-k, -m); nothing was tested\n")
        return ExitCode.BAD_INPUT
    if code == pytest.ExitCode.USAGE_ERROR:
        err.write("conformance: pytest refused the arguments (above); see conformance run --help\n")
        return ExitCode.BAD_INPUT
    if settings.html_report and not _own_alluredir(options):
        html_report(reports, out, err)
    document = read_verdict(reports)
    result = exit_code(document)  # the verdict decides, whatever pytest's own status was
    if document is None:
        what = "interrupted" if code == pytest.ExitCode.INTERRUPTED else f"pytest exit {int(code)}"
        err.write(
            f"conformance: BROKEN: the run ended before a verdict was written ({what}); see the"
            " output above\n"
        )
    elif result == ExitCode.BAD_INPUT:  # every item skipped: the gate has no verdict to give
        err.write(f"conformance: {nothing_tested(reports)}\n")
    else:
        (out if result == ExitCode.OK else err).write(f"conformance: {why(reports)}\n")
    return result


def merge(directories: list[Path], out: Path, stdout: TextIO, stderr: TextIO) -> ExitCode:
    """``conformance merge``: the reports of several shards (or runs) as one verdict."""
    from conformance.reporting import write_summary
    from conformance.suite import (
        OperationVerdict,
        exit_code,
        merged_rules,
        verdict_document,
        write_junit,
        write_verdict,
    )
    from conformance.suite.scenarios import ScenarioVerdict

    documents = []
    for directory in directories:
        path = directory / "verdict.json"
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"conformance merge: {path} cannot be read ({exc})") from None
    verdicts: dict[tuple[str, str], OperationVerdict] = {}
    scenarios: dict[tuple[str, str], ScenarioVerdict] = {}
    targets: dict[str, dict[str, object]] = {}
    errors: list[str] = []
    cleanup: dict[str, object] = {}
    shards: list[str] = []
    for document in documents:
        for data in document["operations"]:
            verdict = OperationVerdict.from_json(data)
            verdicts[(verdict.api, verdict.operation_id)] = verdict
        for data in document.get("scenarios", []):
            scenario = ScenarioVerdict.from_json(data)
            scenarios[(scenario.api, scenario.name)] = scenario
        for target in document.get("targets", []):
            targets.setdefault(str(target["api"]), target)
        errors += [error for error in document.get("errors", []) if error not in errors]
        cleanup.update(document.get("cleanup", {}))
        shards += document.get("shards", [])
    merged = [verdicts[key] for key in sorted(verdicts)]
    told = [scenarios[key] for key in sorted(scenarios)]
    seeds = sorted({document["seed"] for document in documents})
    # every shard judged the same waivers: the first one's report stands for the run, with
    # each waiver used if a shard used it
    waivers = documents[0].get("waivers") or {"in_force": [], "expired": [], "stale": []}
    used = {
        w["name"] for d in documents for w in d.get("waivers", {}).get("in_force", []) if w["used"]
    }
    for entry in waivers["in_force"]:
        entry["used"] = entry["name"] in used
    waivers["stale"] = [entry for entry in waivers["in_force"] if not entry["used"]]
    cut_short = "; ".join(dict.fromkeys(d["cut_short"] for d in documents if d.get("cut_short")))
    result = verdict_document(
        merged, [], seed=seeds[0], profile=documents[0].get("profile", "?"), errors=errors,
        scenarios=told, waivers=waivers, cut_short=cut_short,
        rules=merged_rules(document.get("rules", {}) for document in documents),
    )  # fmt: skip
    result["targets"] = list(targets.values())
    result["cleanup"] = cleanup
    result["merged_from"] = [str(directory) for directory in directories]
    if len(seeds) > 1:
        result["seeds"] = seeds
    counts = {shard.partition("/")[2] for shard in shards}
    missing = []
    if shards and len(counts) == 1:
        count = int(counts.pop())
        missing = [f"{k}/{count}" for k in range(1, count + 1) if f"{k}/{count}" not in shards]
    if missing:
        result["verdict"] = "broken"
        result["errors"] = [*errors, f"shards missing: {', '.join(missing)}"]
    result["shards"] = sorted(shards)
    write_verdict(out / "verdict.json", result)
    write_junit(
        out / "junit.xml", merged, seed=seeds[0], scenarios=told, errors=result["errors"],
        cut_short=cut_short, expired=result["waivers"]["expired"],
    )  # fmt: skip
    write_summary(out, result)
    sentence = why(out)
    if missing:
        stderr.write(f"conformance: BROKEN: shards {', '.join(missing)} are missing; {sentence}\n")
        return ExitCode.TARGET_BROKEN
    code = exit_code(result)
    (stdout if code == ExitCode.OK else stderr).write(f"conformance: {sentence}\n")
    return code
