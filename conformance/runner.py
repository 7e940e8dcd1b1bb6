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

from conformance import catalogue, config, verdict
from conformance.config import RUN_OPTIONS, ResolvedTarget, Settings
from conformance.contract import (
    BUNDLED_APIS,
    ExcludedBy,
    Exclusion,
    RateLimit,
    Spec,
    bundled_spec,
    check_selectors,
    exclusions,
    load_spec,
)
from conformance.errors import ConfigError, ConformanceError, ExitCode, UsageError
from conformance.reporting import plural
from conformance.verdict import RuleUse, Run, Target

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
    """What the command line said: the targets, the config file, and the run settings it gave
    (``given``: keys of `config.RUN_OPTIONS`; None or absent: not given, so the config file or
    the environment may)."""

    targets: list[str] = field(default_factory=list)
    spec: Path | None = None
    #: an OpenAPI Overlay applied to ``spec`` (``--overlay FILE``)
    overlay: Path | None = None
    config: Path | None = None
    given: dict[str, Any] = field(default_factory=dict)
    #: print which rules apply to which operations, and exit (no backend, no request)
    list_rules: bool = False
    pytest_args: list[str] = field(default_factory=list)

    def settings(self) -> Settings:
        """The run's settings: the config file, the environment, then ``given``; the waivers
        default to ``waivers.toml`` here, when there is one."""
        from conformance.suite.scenarios import NAMES, PROBES

        settings = config.load(
            self.config, known_scenarios=NAMES, known_probes=PROBES, **self.given
        )
        return replace(settings, waivers=waivers_file(settings))


def _name_of(spec: Path) -> str:
    stem = spec.name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "api"


def resolve_targets(options: RunOptions, settings: Settings) -> dict[str, ResolvedTarget]:
    """name -> (url, spec, overlay): the config's targets, then ``--target``, ``--spec`` and
    ``--overlay``."""
    targets = _targets(options, settings)
    if options.spec is not None and not any(t.spec == options.spec for t in targets.values()):
        raise UsageError("--spec FILE needs the URL of its backend: --target URL")
    return targets


def _targets(options: RunOptions, settings: Settings) -> dict[str, ResolvedTarget]:
    """`config.resolve_targets` over ``--target`` (``API=URL``, or a bare URL: the API of
    ``--spec FILE``, overlaid by ``--overlay FILE``); each spec is read here, with its overlay,
    so that one that cannot be read ends the run in one line."""
    if options.overlay is not None and options.spec is None:
        raise UsageError(
            "--overlay FILE overlays the spec of --spec FILE; for a target of conformance.toml"
            ' write overlay = "FILE" in its [targets.NAME] table'
        )
    urls: dict[str, str] = {}
    specs: dict[str, Path] = {}
    overlays: dict[str, Path] = {}
    for value in options.targets:
        name, sep, url = value.partition("=")
        if not sep:  # a bare URL: the target of --spec
            if options.spec is None:
                raise UsageError(
                    f"--target {value}: name the API (--target gloria=URL, --target tchat=URL), or"
                    " give its spec with --spec FILE"
                )
            name, url = _name_of(options.spec), value
            specs[name] = options.spec
            if options.overlay is not None:
                overlays[name] = options.overlay
        if name in urls:
            raise UsageError(f"--target {name} is given twice")
        urls[name] = url
    named = [value.partition("=")[0] for value in options.targets if "=" in value]
    if options.spec is not None and not specs and named:  # --target NAME=URL --spec FILE
        if len(named) > 1:
            raise UsageError(
                f"--spec FILE with {len(named)} named targets: give the spec of each in its"
                ' [targets.NAME] table (spec = "FILE"), or one --target NAME=URL with --spec'
            )
        specs[named[0]] = options.spec
        if options.overlay is not None:
            overlays[named[0]] = options.overlay
    targets = config.resolve_targets(
        settings, urls, specs, bundled={api: bundled_spec(api) for api in BUNDLED_APIS},
        flag="--target", spec_hint="use --spec FILE --target URL for any other OpenAPI API",
        overlays=overlays,
    )  # fmt: skip
    for target in targets.values():
        load_spec(target.spec, target.overlays)
    return targets


def named_after_spec(options: RunOptions) -> list[str]:
    """A line for a bare ``--target URL``: its API is named after the spec's file, and that
    name picks the credential variables, which the user should not have to find in an error
    message."""
    if options.spec is None:
        return []
    name = _name_of(options.spec)
    variable = f"CONFORMANCE_{name.upper()}"
    return [
        f"conformance: the API at {value} is called {name!r} after {options.spec.name}; its"
        f" credentials are read from {variable}_TOKEN (or {variable}_USERNAME and _PASSWORD,"
        f" or [{name}] in the credentials file); --target NAME={value} names it"
        for value in options.targets
        if "=" not in value
    ]


def overlay_warnings(targets: dict[str, ResolvedTarget]) -> list[str]:
    """A line for each action of the targets' overlays that changed nothing or could not apply:
    the run goes on without what it meant to declare (``conformance lint SPEC --overlay FILE``
    reports them as findings)."""
    lines = []
    for name, target in targets.items():
        if target.overlay is None:
            continue
        for problem in load_spec(target.spec, target.overlays).overlay_problems:
            where = f"{problem.overlay}:{problem.line}" if problem.line else str(problem.overlay)
            lines.append(f"conformance: {name}: {where}: {problem.message}; {problem.fix}")
    return lines


def run_spec(
    path: Path, overlays: Sequence[Path], settings: Settings
) -> tuple[Spec, tuple[Exclusion, ...]]:
    """A target's spec as the run reads it, without the operations it leaves out
    (`contract.exclusions`, as the plugin reads it in every worker), and those."""
    spec = load_spec(path, overlays)
    left_out = exclusions(spec, settings.exclude, settings.include, disposable=settings.disposable)
    return spec.without(left.operation for left in left_out), left_out


def check_exclusions(targets: dict[str, ResolvedTarget], settings: Settings) -> None:
    """An ``exclude`` or ``include`` that names no operation of the run is a `ConfigError`
    (exit 3): a misspelt exclusion would let the run call what the user meant to keep out."""
    specs = {name: load_spec(t.spec, t.overlays) for name, t in targets.items()}
    check_selectors(specs, settings.exclude, settings.include)


def excluded_lines(name: str, left_out: Sequence[Exclusion]) -> list[str]:
    """Before the run: a line for each operation it leaves out, why, and how to test it after
    all (a dangerous one: the line that includes it again, or a disposable target)."""
    lines = []
    for left in left_out:
        said = f"conformance: {name}: {left.label} is left out: {left.reason}"
        if left.by == ExcludedBy.DANGER:
            said += (
                f' (the target is shared); test it with --include "{left.label}" or [run]'
                f' include = ["{left.label}"], or every such operation with --environment'
                " disposable"
            )
        elif left.by == ExcludedBy.SPEC:
            said += f'; test it with --include "{left.label}"'
        lines.append(said)
    return lines


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


def check_credentials(
    name: str, url: str, spec: Path, settings: Settings, overlays: Sequence[Path] = ()
) -> None:
    """Before the run, the credentials get in (`suite.check_access`: the security scheme they
    fit, its login, then a preflight of a few reads), so that wrong ones are one line (exit 3)
    within seconds and not minutes of refusals. (The run's own session logs in again: one
    login more per API.)"""
    from conformance.suite import Credentials, Network, check_access

    secrets = config.credentials(name, settings)
    loaded, _ = run_spec(spec, overlays, settings)  # the preflight reads no excluded operation
    credentials = Credentials.of(name, secrets)
    credentials.register()
    if not credentials.given:
        missing_credentials(name, loaded, secrets)
        return
    network = Network(settings.request_timeout_s, settings.tls, settings.proxy)
    check_access(loaded, url, credentials, network)


def missing_credentials(name: str, spec: Spec, secrets: config.Secrets) -> None:
    """A run with no (or half the) credentials for an API whose operations need them would be
    one 401 after another and a verdict of "not exercised": one sentence (exit 3) instead,
    naming the variables the spec's most used scheme takes."""
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
        f" {len(spec.operations)}) and no credentials are set; {_wanted(name, spec)}"
    )


def _wanted(name: str, spec: Spec) -> str:
    """Which variables give what the spec's most used security scheme takes."""
    variable = f"CONFORMANCE_{name.upper()}"
    used = collections.Counter(
        scheme for operation in spec.operations for each in operation.security for scheme in each
    )
    schemes = spec.security_schemes
    top = next((schemes[scheme] for scheme, _ in used.most_common() if scheme in schemes), None)
    elsewhere = f"[{name}] in the credentials file"
    flow = spec.declarations.auth_flow
    if top is None or top.is_basic or flow is not None or top.flow("password") is not None:
        return (
            f"set {variable}_USERNAME and {variable}_PASSWORD (or {variable}_TOKEN, or {elsewhere})"
        )
    if top.flow("clientCredentials") is not None:
        return (
            f"set {variable}_CLIENT_ID and {variable}_CLIENT_SECRET for {top.described} (or"
            f" {variable}_TOKEN, or {elsewhere})"
        )
    prefix = (
        f" (and {variable}_TOKEN_PREFIX if its value starts with a word, e.g. Token)"
        if top.type == "apiKey" and top.location == "header"
        else ""
    )
    return f"set {variable}_TOKEN for {top.described}{prefix}, or {elsewhere}"


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
) -> Iterator[dict[str, ResolvedTarget]]:
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
            targets[api] = ResolvedTarget(backends.url(api), bundled_spec(api))
            out.write(f"conformance: the reference backend serves {api} at {backends.url(api)}\n")
        out.flush()
        with _environment(credentials):
            yield targets


def waivers_file(settings: Settings) -> Path | None:
    """The waivers of the run: ``--waivers FILE`` (or ``waivers`` in the config, or
    ``CONFORMANCE_WAIVERS``), else ``waivers.toml`` here, if any."""
    from conformance.suite import DEFAULT_WAIVERS_FILE

    if settings.waivers is not None:
        return settings.waivers
    return DEFAULT_WAIVERS_FILE if DEFAULT_WAIVERS_FILE.is_file() else None


def check_waivers(settings: Settings) -> None:
    """A bad waivers file is a config error before anything runs (exit 3)."""
    from conformance.suite import known_rules, parse_waivers

    path = settings.waivers
    if path is None:
        return
    if not path.is_file():
        raise ConfigError(f"--waivers {path}: no such file")
    parse_waivers(path, config.read_toml(path), known_rules())


def pytest_arguments(
    targets: dict[str, ResolvedTarget], options: RunOptions, settings: Settings
) -> list[str]:
    """The plugin's options for the resolved settings (xdist workers parse them again)."""
    from conformance.suite import TESTS_DIR

    arguments = [
        str(TESTS_DIR),
        "-c", str(TESTS_DIR / "pytest.ini"),
        "--rootdir", str(Path.cwd()),
        *setting_arguments(settings),
    ]  # fmt: skip
    if settings.fail_fast:  # pytest stops after the first failed test too
        arguments.append("-x")
    if options.config is not None or config.DEFAULT_FILE.is_file():
        # the credentials file and the scenario switches come from there
        arguments += ["--conformance-config", str(options.config or config.DEFAULT_FILE)]
    for name, target in targets.items():
        arguments += [
            "--conformance-target",
            f"{name}={target.url}",
            "--conformance-spec",
            f"{name}={target.spec}",
        ]
        if target.overlay is not None:
            arguments += ["--conformance-overlay", f"{name}={target.overlay}"]
    if not _own_alluredir(options):
        # Allure results of this run only (the HTML report keeps the history)
        results = settings.reports / "allure-results"
        arguments += ["--alluredir", str(results), "--clean-alluredir"]
    arguments += cache_arguments(settings.reports, options.pytest_args)
    arguments += assertion_arguments(options.pytest_args)
    arguments += plugin_arguments(options.pytest_args)
    return arguments + workers(len(targets), options.pytest_args) + list(options.pytest_args)


#: the pytest plugins a run loads, by their entry points' names: its own, xdist's (an API to a
#: worker) and Allure's (the results). pytest's loading of every plugin installed beside them is
#: off (``--disable-plugin-autoload``), as the project's pytest.ini is (``-c``): a project's CI
#: environment may hold pytest-django, which sets Django up from ``DJANGO_SETTINGS_MODULE`` as
#: pytest starts, or pytest-randomly, which reorders the items and reseeds ``random``. The
#: arguments load another by its name (``-p NAME``), or leave one of these out (``-p no:xdist``).
RUN_PLUGINS = ("conformance", "xdist", "allure_pytest")

#: pytest plugins the run does without, each left out unless the arguments name it:
#: schemathesis's (for ``@schema.parametrize`` tests, which the run has none of; importing it
#: took 0.24 s of every run and of every xdist worker) and pytest's ``unraisableexception``
#: (its warnings of exceptions in ``__del__``, which the run's verdict has no place for; it ran
#: the garbage collector 10 times as each process ended, 0.1 s; issue 25)
UNUSED_PLUGINS = ("schemathesis", "unraisableexception")


def plugin_arguments(pytest_args: list[str]) -> list[str]:
    """No plugin loaded for being installed; ``-p NAME`` for each of `RUN_PLUGINS` the arguments
    do not leave out, ``-p no:NAME`` for each of `UNUSED_PLUGINS` they do not name."""
    named = " ".join(pytest_args)
    return [
        "--disable-plugin-autoload",
        *(arg for name in RUN_PLUGINS if f"no:{name}" not in named for arg in ("-p", name)),
        *(arg for name in UNUSED_PLUGINS if name not in named for arg in ("-p", f"no:{name}")),
    ]


def assertion_arguments(pytest_args: list[str]) -> list[str]:
    """``--assert=plain`` unless the arguments choose: pytest rewrites the asserts of every
    module of every installed plugin's distribution (schemathesis and hypothesis among them)
    as the run first imports it, and where bytecode is not written (``PYTHONDONTWRITEBYTECODE``,
    common in CI images) it parsed and rewrote them on every run: 3.3 s of a 7 s run on a
    small third-party API (issue 25, measured with py-spy). The suite's own tests judge by
    verdicts, not by rewritten asserts."""
    chosen = any(arg.startswith("--assert") for arg in pytest_args)
    return [] if chosen else ["--assert=plain"]


def cache_arguments(reports: Path, pytest_args: list[str]) -> list[str]:
    """pytest's cache under the reports folder, not in the current directory: a run writes
    nothing else there, and ``--lf`` works from one run to the next with the same reports
    (hypothesis's files go to a folder of the run's own). None when the arguments choose."""
    chosen = any("cache_dir" in arg or arg == "no:cacheprovider" for arg in pytest_args)
    return [] if chosen else ["-o", f"cache_dir={reports.resolve() / '.pytest_cache'}"]


def setting_arguments(settings: Settings) -> list[str]:
    """The run's settings as the plugin's options (`config.RUN_OPTIONS`), so that pytest and
    every xdist worker parse the same: a switch when it is on, a value when there is one."""
    arguments: list[str] = []
    for option in RUN_OPTIONS:
        value = getattr(settings, option.key)
        if option.pytest_flag is None or value is None or value == "" or value == ():
            continue
        if option.kind == "selectors":  # a repeatable option: once for each
            arguments += [word for each in value for word in (option.pytest_flag, each)]
        elif option.switch is None:
            arguments += [option.pytest_flag, str(value)]
        elif value == option.switch:
            arguments.append(option.pytest_flag)
    return arguments


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


#: operations named on a line of ``--list-rules`` (the rest are counted)
LISTED_OPERATIONS = 4


def list_rules(options: RunOptions, out: TextIO) -> ExitCode:
    """``conformance run --list-rules``: for each API of the run (its targets' specs, or the
    bundled ones), which rules apply to which operations and why, which are off and why; no
    backend is started and no request sent. ``--spec FILE`` needs no ``--target`` here."""
    settings = options.settings()
    specs: dict[str, tuple[Path, tuple[Path, ...]]] = {
        name: (target.spec, target.overlays) for name, target in _targets(options, settings).items()
    }
    if options.spec is not None and options.spec not in [spec for spec, _ in specs.values()]:
        given = () if options.overlay is None else (options.overlay,)
        specs[_name_of(options.spec)] = (options.spec, given)
    if not specs:
        specs = {api: (bundled_spec(api), ()) for api in BUNDLED_APIS}
    check_selectors(
        {api: load_spec(path, overlays) for api, (path, overlays) in specs.items()},
        settings.exclude,
        settings.include,
    )
    for n, (api, (path, overlays)) in enumerate(specs.items()):
        spec, left_out = run_spec(path, overlays, settings)
        lines = rule_lines(api, path, spec, settings.require_exercised)
        lines[1:1] = [f"  left out: {left.label}: {left.reason}" for left in left_out]
        out.write(("\n" if n else "") + "\n".join(lines) + "\n")
    if probes := probe_lines():  # the same on every API: once
        out.write("\n" + "\n".join(probes) + "\n")
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
    overlaid = "".join(f" + overlay {overlay}" for overlay in spec.document.overlays)
    lines = [f"{api}: {path}{overlaid} ({plural(len(operations), 'operation')}; {strict})"]
    for problem in spec.overlay_problems:  # what the overlay meant to declare is not there
        where = f"{problem.overlay}:{problem.line}" if problem.line else str(problem.overlay)
        lines.append(f"  overlay problem: {where}: {problem.message}")
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


def probe_lines() -> list[str]:
    """The security probes, each with when it applies (what it needs, else it is skipped with
    the reason), then their rules: severity, OWASP category, and whether a finding is only a
    warning (reported, never failing the gate)."""
    from conformance.suite.scenarios import registered

    probes = registered("probe")
    if not probes:
        return []
    lines = ["security probes (OWASP API Security Top 10, 2023; -m probe, [probes] switches):"]
    width = max(len(probe.name) for probe in probes)
    for probe in probes:
        writes = "" if probe.read_only else " (writes: skipped in a read-only run)"
        lines.append(f"  {probe.name:<{width}}  when: {probe.requires.replace('`', '')}{writes}")
    found = catalogue.of_kind(catalogue.Kind.PROBE)
    width = max(len(rule.id) for rule in found)
    lines.append("  their rules (severity, OWASP category, whether a finding fails the gate):")
    for rule in found:
        gate = "warning, never fails the gate" if rule.warning else "fails the gate"
        lines.append(f"    {rule.id:<{width}}  {rule.severity:<9} {rule.owasp_name} ({gate})")
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

    from conformance.suite import sigterm_interrupts

    if options.list_rules:
        return list_rules(options, out)
    settings = options.settings()
    check_waivers(settings)
    targets = resolve_targets(options, settings)
    reports = settings.reports
    stack = contextlib.ExitStack()
    with stack:
        if not targets:
            targets = stack.enter_context(embedded(out))
        for line in overlay_warnings(targets):
            err.write(line + "\n")
        for line in named_after_spec(options):
            out.write(line + "\n")
        check_exclusions(targets, settings)
        for name, target in targets.items():
            for line in excluded_lines(name, run_spec(target.spec, target.overlays, settings)[1]):
                out.write(line + "\n")
        out.flush()
        for name, target in targets.items():
            check_reachable(name, target.url, settings)
            check_credentials(name, target.url, target.spec, settings, target.overlays)
        (reports / "verdict.json").unlink(missing_ok=True)
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
    run = verdict.read(reports)
    if run is None:  # the run broke before it could judge
        what = "interrupted" if code == pytest.ExitCode.INTERRUPTED else f"pytest exit {int(code)}"
        err.write(
            f"conformance: BROKEN: the run ended before a verdict was written ({what}); see the"
            " output above\n"
        )
        return ExitCode.TARGET_BROKEN
    result = run.exit_code()  # the verdict decides, whatever pytest's own status was
    said = verdict.last_line(run, reports)
    (out if result == ExitCode.OK else err).write(f"conformance: {said}\n")
    return result


def merge(directories: list[Path], out: Path, stdout: TextIO, stderr: TextIO) -> ExitCode:
    """``conformance merge``: the reports of several shards (or runs) as one verdict."""
    from conformance.reporting import write_reports
    from conformance.suite import merged_rules

    runs = []
    for directory in directories:
        path = directory / "verdict.json"
        try:
            runs.append(Run.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise UsageError(f"conformance merge: {path} cannot be read ({exc})") from None
    merged = _merged(runs, merged_rules(run.rules for run in runs))
    merged.merged_from = [str(directory) for directory in directories]
    missing = _missing_shards(merged.shards or [])
    if missing:
        merged.errors.append(f"shards missing: {', '.join(missing)}")
    write_reports(out, merged)
    sentence = verdict.last_line(merged, out)
    if missing:
        stderr.write(f"conformance: BROKEN: shards {', '.join(missing)} are missing; {sentence}\n")
        return ExitCode.TARGET_BROKEN
    code = merged.exit_code()
    (stdout if code == ExitCode.OK else stderr).write(f"conformance: {sentence}\n")
    return code


def _merged(runs: list[Run], rules: dict[str, list[RuleUse]]) -> Run:
    """Several runs as one: an operation or scenario judged in several is the last one's; every
    shard judged the same waivers, so the first one's stand, each used if a shard used it."""
    operations = {(v.api, v.operation_id): v for run in runs for v in run.operations}
    scenarios = {(s.api, s.name): s for run in runs for s in run.scenarios}
    targets: dict[str, Target] = {}
    for target in (target for run in runs for target in run.targets):
        targets.setdefault(target.api, target)
    waivers = runs[0].waivers
    used = {w.name for run in runs for w in run.waivers.in_force if w.used}
    for entry in waivers.in_force:
        entry.used = entry.name in used
    waivers.stale = [entry for entry in waivers.in_force if not entry.used]
    seeds = sorted({run.seed for run in runs})
    return Run(
        [operations[key] for key in sorted(operations)],
        list(targets.values()),
        seeds[0],
        runs[0].profile,
        errors=list(dict.fromkeys(error for run in runs for error in run.errors)),
        scenarios=[scenarios[key] for key in sorted(scenarios)],
        waivers=waivers,
        cut_short="; ".join(dict.fromkeys(run.cut_short for run in runs if run.cut_short)),
        rules=rules,
        cleanup={api: report for run in runs for api, report in run.cleanup.items()},
        shards=sorted(shard for run in runs for shard in run.shards or []),
        seeds=seeds if len(seeds) > 1 else None,
        environment=runs[0].environment,
        excluded=list(dict.fromkeys(excluded for run in runs for excluded in run.excluded)),
    )


def _missing_shards(shards: list[str]) -> list[str]:
    """The shards of a sharded run that are not among ``shards`` (``k/n`` each)."""
    counts = {shard.partition("/")[2] for shard in shards}
    if not shards or len(counts) != 1:
        return []
    count = int(counts.pop())
    return [f"{k}/{count}" for k in range(1, count + 1) if f"{k}/{count}" not in shards]
