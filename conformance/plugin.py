"""The pytest plugin (entry point ``pytest11: conformance``): the suite's options, markers and
fixtures, one fuzz test per operation, and verdict.json at the end.

A QA engineer runs the same tests as ``conformance run`` with plain pytest::

    CONFORMANCE_TCHAT_USERNAME=… CONFORMANCE_TCHAT_PASSWORD=… \\
        pytest --pyargs conformance.suite.tests --conformance-target tchat=http://127.0.0.1:8001/api

and selects as usual: ``-k getContentItems``, ``-m fuzz``, ``--lf``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.config import PROFILES, RUN_OPTIONS, read_toml
from conformance.contract import (
    BUNDLED_APIS,
    bundled_spec,
    check_selectors,
    exclusions,
    load_spec,
)
from conformance.errors import ConformanceError, UsageError
from conformance.masking import mask, register
from conformance.reporting import allure_labels, severity, terminal_lines, title, write_reports
from conformance.verdict import Verdict

if TYPE_CHECKING:
    from conformance.config import Settings
    from conformance.suite import SuiteSession, Target

#: the suite's example budgets (`conformance.suite.PROFILES`, imported only when a run needs it:
#: this plugin loads in every pytest run of the environment), as the settings know them
PROFILE_NAMES = PROFILES

#: name(args): meaning, as `pytest --markers` shows them. Select with keyword arguments:
#: ``-m "api(name='tchat')"``, ``-m "module(tag='schools')"``, ``-m "operation(id='getSchool')"``;
#: each target's API is also a bare marker (``-m tchat``), registered when the target is given.
MARKERS = {
    "api(name)": "the API a conformance test belongs to (gloria, tchat, or the spec file's name)",
    "module(tag)": "the module (the operation's tag) a conformance test belongs to",
    "operation(id)": "the operation (operationId) a conformance test exercises",
    "fuzz": "a schema-driven fuzzing test of one operation",
    #: ``pytest --markers`` adds the scenarios' names, from their registry (`_scenario_names`)
    "scenario(name)": "a scripted scenario of one API",
    #: and the probes' (``-m probe`` selects them all, ``-m "not probe"`` leaves them out)
    "probe(name)": "a security probe of one API (OWASP API Security Top 10)",
}
SUITE = pytest.StashKey["SuiteSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "API contract conformance")
    group.addoption(
        "--conformance-target",
        action="append",
        default=[],
        metavar="API=URL",
        help="a backend to test: gloria=URL, tchat=URL, or NAME=URL with --conformance-spec",
    )
    group.addoption(
        "--conformance-spec",
        action="append",
        default=[],
        metavar="API=FILE",
        help="the OpenAPI spec of a target (default: the bundled one of gloria and tchat)",
    )
    group.addoption(
        "--conformance-overlay",
        action="append",
        default=[],
        metavar="API=FILE",
        help="an OpenAPI Overlay 1.0 file applied to a target's spec before anything reads it",
    )
    group.addoption(
        "--conformance-config",
        default=None,
        metavar="FILE",
        help="a conformance.toml (targets, profile, timeouts, TLS, proxy, read-only …)",
    )
    for option in RUN_OPTIONS:  # each run setting's option, declared once in `config`
        if option.pytest_flag is not None:
            group.addoption(
                option.pytest_flag,
                dest=option.pytest_dest,
                help=option.pytest_help or option.help,
                **option.flag_arguments(),
            )


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"{flag} {value!r}: write NAME=VALUE, e.g. {flag} tchat=…")
        found[name] = rest
    return found


def _settings(config: pytest.Config) -> Settings:
    """The run's settings: the --conformance-config file, the environment, then the options."""
    from conformance import config as settings_module
    from conformance.suite.scenarios import NAMES, PROBES

    path = config.getoption("conformance_config")
    given = {
        option.key: config.getoption(option.pytest_dest)
        for option in RUN_OPTIONS
        if option.pytest_flag is not None
    }
    return settings_module.load(
        Path(path) if path else None,
        discover=False,
        known_scenarios=NAMES,
        known_probes=PROBES,
        **given,
    )


def _targets(config: pytest.Config, settings: Settings) -> dict[str, Target]:
    from conformance import config as settings_module
    from conformance.suite import Credentials, Target

    urls = _pairs(config.getoption("conformance_target"), "--conformance-target")
    specs = _pairs(config.getoption("conformance_spec"), "--conformance-spec")
    overlays = _pairs(config.getoption("conformance_overlay"), "--conformance-overlay")
    resolved = settings_module.resolve_targets(
        settings, urls, {api: Path(path) for api, path in specs.items()},
        bundled={api: bundled_spec(api) for api in BUNDLED_APIS},
        flag="--conformance-target", spec_hint="give its spec with --conformance-spec {name}=FILE",
        overlays={api: Path(path) for api, path in overlays.items()},
    )  # fmt: skip
    read = {api: load_spec(target.spec, target.overlays) for api, target in resolved.items()}
    check_selectors(read, settings.exclude, settings.include)
    targets = {}
    for api, (url, path, overlay) in resolved.items():
        spec = read[api]
        # an excluded operation is no item, and nothing of the run (the preflight, the
        # scenarios) sees it: it is gone from the spec the run reads
        left_out = exclusions(
            spec, settings.exclude, settings.include, disposable=settings.disposable
        )
        secrets = settings_module.credentials(api, settings)
        credentials = Credentials.of(api, secrets)
        own = (
            api in BUNDLED_APIS
            and overlay is None
            and path.resolve() == bundled_spec(api).resolve()
        )
        targets[api] = Target(
            api,
            spec.without(left.operation for left in left_out),
            url,
            credentials,
            own_spec=own,
            excluded=left_out,
        )
    return targets


def pytest_configure(config: pytest.Config) -> None:
    """The markers always; when a run is on (a target or a config file given), its
    `SuiteSession` in ``config.stash`` and its hooks, `ConformanceRun`: no other pytest run of
    the environment carries them."""
    for marker, meaning in MARKERS.items():
        if marker in ("scenario(name)", "probe(name)"):
            meaning += _scenario_names(config, marker.partition("(")[0])
        config.addinivalue_line("markers", f"{marker}: {meaning}")
    if not config.getoption("conformance_target", default=None) and not config.getoption(
        "conformance_config", default=None
    ):
        return
    suite = _open_run(config)
    config.stash[SUITE] = suite
    config.pluginmanager.register(ConformanceRun(suite), "conformance-run")


def hypothesis_cache() -> Path | None:
    """``$XDG_CACHE_HOME/conformance/hypothesis`` (``~/.cache/…``): where hypothesis keeps the
    Unicode tables it computes, from one run to the next. Rebuilt in a folder of each run's own,
    its table of the characters UTF-8 encodes took 1.5 s of every run (a loop over every code
    point: a fifth of a 7 s run on a small third-party API, issue 25). None when it cannot be
    written (a read-only home)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "conformance" / "hypothesis"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _hypothesis_home(folder: Path | None) -> None:
    """Where hypothesis keeps its files: ``folder``, or (None) back to its own choice."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(folder)


def _open_run(config: pytest.Config) -> SuiteSession:
    """The run's `SuiteSession`, from its settings and targets (a bad one: pytest's usage
    error, one line); an xdist worker takes the controller's seed and deadline."""
    try:
        settings = _settings(config)
        targets = _targets(config, settings)
    except ConformanceError as error:
        raise pytest.UsageError(str(error)) from None
    for target in targets.values():
        target.credentials.register()
    if settings.proxy:  # a proxy URL may carry its own password
        register(urllib.parse.urlsplit(settings.proxy).password)
    if not targets:
        raise pytest.UsageError(
            "conformance: no target; give --conformance-target API=URL or [targets.API] in the"
            " config"
        )
    for api in targets:
        config.addinivalue_line("markers", f"{api}: the tests of the {api} target")
    from conformance.suite import Network, SuiteSession, sigterm_interrupts

    seed = settings.seed
    run_timeout = settings.run_timeout_s
    deadline = time.time() + run_timeout if run_timeout is not None else None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: the controller chose the seed and deadline
        seed = workerinput.get("conformance_seed", seed)
        deadline = workerinput.get("conformance_deadline", deadline)
        signals = contextlib.ExitStack()  # for the worker's life: a cancelled job cleans up
        signals.enter_context(sigterm_interrupts())
        config.add_cleanup(signals.close)
    options: dict[str, Any] = {"seed": seed} if seed is not None else {}
    if settings.max_wait_s is not None:  # else the scenarios' own default
        options["max_wait_s"] = settings.max_wait_s
    suite = SuiteSession(
        targets,
        profile=settings.profile,
        reports=settings.reports,
        progress=_progress(config),
        network=Network(settings.request_timeout_s, settings.tls, settings.proxy),
        read_only=settings.read_only,
        disposable=settings.disposable,
        exclude_singletons=settings.exclude_singletons,
        fail_fast=settings.fail_fast,
        require_exercised=settings.require_exercised,
        switches=dict(settings.scenarios),
        run_timeout_s=run_timeout,
        deadline=deadline,
        **options,
    )
    if settings.shard:
        from conformance.suite import Shard

        try:
            suite.shard = str(Shard.parse(settings.shard))
        except ConformanceError as error:
            raise pytest.UsageError(str(error)) from None
    if settings.waivers:
        from conformance.suite import known_rules, parse_waivers

        try:
            data = read_toml(settings.waivers)
            suite.waivers = parse_waivers(settings.waivers, data, known_rules())
        except ConformanceError as error:
            raise pytest.UsageError(str(error)) from None
    return suite


def _progress(config: pytest.Config) -> Callable[[str], None]:
    workerinput = getattr(config, "workerinput", None)

    def progress(line: str) -> None:
        """A line on the terminal while a test runs (past pytest's output capture). An xdist
        worker has no terminal reporter, but its stderr is the controller's once capture is
        off."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        line = mask(line)
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if workerinput is not None:
                stream = sys.__stderr__
                if stream is not None:
                    stream.write(f"conformance [{workerinput['workerid']}]: {line}\n")
                    stream.flush()
            elif reporter is not None:
                reporter.ensure_newline()
                reporter.write_line(f"conformance: {line}")

    return progress


def _allure_marks(labels: dict[str, str]) -> list[pytest.MarkDecorator]:
    """allure-pytest reads a test's labels from these marks (what ``@allure.epic`` makes)."""
    return [pytest.mark.allure_label(value, label_type=name) for name, value in labels.items()]


def _scenario_names(config: pytest.Config, kind: str = "scenario") -> str:
    """The registered scenarios (or probes), for the ``scenario(name)`` (``probe(name)``)
    marker's help where it is read (``pytest --markers``): other pytest runs of the environment
    import no suite for it."""
    if not config.getoption("markers", default=False):
        return ""
    from conformance.suite.scenarios import NAMES, PROBES

    return f" ({', '.join(PROBES if kind == 'probe' else NAMES)})"


def _params(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec is not None else {}


def _operation_labels(suite: SuiteSession) -> dict[tuple[str, str], dict[str, str]]:
    """Each operation's Allure labels, for the per-check results the controller writes."""
    return {
        (api, str(operation.operation_id)): allure_labels(target.spec, operation=operation)
        for api, target in suite.targets.items()
        for operation in target.spec.operations
    }


@pytest.fixture(scope="session")
def conformance_suite(request: pytest.FixtureRequest) -> SuiteSession:
    suite = request.config.stash.get(SUITE, None)
    if suite is None:
        pytest.skip("no --conformance-target given")
    return suite


@pytest.fixture
def conformance_operation() -> tuple[str, str]:
    """(api, operationId): `ConformanceRun` parametrizes it, one item per operation; without a
    run there is nothing to test."""
    pytest.skip("no --conformance-target given")


@pytest.fixture
def conformance_scenario() -> tuple[str, str]:
    """(api, scenario): `ConformanceRun` parametrizes it, one item per API and scenario."""
    pytest.skip("no --conformance-target given")


class ConformanceRun:
    """The hooks of a run, registered by `pytest_configure` only when one is on, so none of them
    asks whether there is one: they act on its `SuiteSession` (also in ``config.stash``, for
    the ``conformance_suite`` fixture). pytest's keyboard-interrupt hook, given no config, is
    one of them."""

    def __init__(self, suite: SuiteSession) -> None:
        self.suite = suite
        # hypothesis's files (the Unicode tables it caches; the engine keeps no examples) in the
        # user's cache folder, else in a folder of the run's own, gone at its end: a run writes
        # nothing in the current directory (``.hypothesis``) but its reports
        cached = hypothesis_cache()
        self._hypothesis = cached or Path(tempfile.mkdtemp(prefix="conformance-hypothesis-"))
        self._temporary = cached is None
        _hypothesis_home(self._hypothesis)

    def pytest_unconfigure(self) -> None:
        _hypothesis_home(None)  # a pytester run in this process leaves the outer one's alone
        if self._temporary:
            shutil.rmtree(self._hypothesis, ignore_errors=True)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "conformance_scenario" in metafunc.fixturenames:
            metafunc.parametrize("conformance_scenario", self._scenario_items())
        if "conformance_operation" in metafunc.fixturenames:
            metafunc.parametrize("conformance_operation", self._operation_items())

    def _operation_items(self) -> list[Any]:
        """One item per operation of each target, marked for selection and Allure."""
        params = []
        for api, target in self.suite.targets.items():
            for operation in target.spec.operations:
                operation_id = str(operation.operation_id)
                marks = [
                    getattr(pytest.mark, api),
                    pytest.mark.api(name=api),
                    pytest.mark.operation(id=operation_id),
                    pytest.mark.fuzz,
                    pytest.mark.xdist_group(api),
                    *[pytest.mark.module(tag=tag) for tag in operation.tags],
                    *_allure_marks(allure_labels(target.spec, operation=operation)),
                ]
                params.append(
                    pytest.param((api, operation_id), marks=marks, id=f"{api}-{operation_id}")
                )
        return params

    def _scenario_items(self) -> list[Any]:
        """One item per API and registered scenario, in the order they run (the latency
        scenario last of the scenarios: it judges the samples of everything before it), then
        one per API and security probe (marked ``probe``, not ``scenario``)."""
        from conformance.suite.scenarios import NAMES, PROBES

        return [
            pytest.param(
                (api, name),
                marks=[
                    getattr(pytest.mark, api),
                    pytest.mark.api(name=api),
                    getattr(pytest.mark, kind)(name=name),
                    pytest.mark.xdist_group(api),
                    *_allure_marks(
                        allure_labels(target.spec, scenario=name)
                        if kind == "scenario"
                        else allure_labels(target.spec, probe=name)
                    ),
                ],
                id=f"{api}-{name}",
            )
            for api, target in self.suite.targets.items()
            for kind, names in (("scenario", NAMES), ("probe", PROBES))
            for name in names
        ]

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """``--conformance-shard K/N``: keep this shard's operations (`conformance.suite.assign`).
        Fail fast: the scenarios first (seconds each, where the fuzzing takes a minute an API)."""
        suite = self.suite
        if suite.fail_fast:
            items.sort(key=lambda item: "conformance_scenario" not in _params(item))  # stable
        if not suite.shard:
            return
        from conformance.suite import Shard, assign

        shard = Shard.parse(suite.shard)
        owner = assign({api: target.spec for api, target in suite.targets.items()}, shard.count)
        # an API's scenarios run in one shard: the APIs are dealt round the shards
        scenario_owner = {api: n % shard.count + 1 for n, api in enumerate(sorted(suite.targets))}
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            params = _params(item)
            if "conformance_operation" in params:
                mine = owner.get(tuple(params["conformance_operation"])) == shard.index
            elif "conformance_scenario" in params:
                mine = scenario_owner.get(params["conformance_scenario"][0]) == shard.index
            else:
                mine = True
            (kept if mine else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            params = _params(item)
            if "conformance_operation" in params:
                api, operation_id = params["conformance_operation"]
                self.suite.selected.setdefault(api, set()).add(operation_id)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist, on the controller: every worker runs with the controller's seed and
        deadline."""
        node.workerinput["conformance_seed"] = self.suite.seed
        node.workerinput["conformance_deadline"] = self.suite.deadline

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """xdist, on the controller: with ``-n N`` (``--dist load`` or ``loadgroup``) an API's
        items go to one worker, which runs the API's engine once, links and all. xdist's own
        ``loadgroup`` cannot do it under pytest 9.2: it renames ``item._nodeid``, which pytest
        no longer reads, so the groups never reach the controller."""
        if config.getvalue("dist") not in ("load", "loadgroup"):
            return None
        from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

        prefixes = tuple(f"[{api}-" for api in self.suite.targets)

        class ByApi(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                for prefix in prefixes:
                    if prefix in nodeid:
                        return prefix.strip("[-")
                return nodeid

        return ByApi(config, log)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist, on the controller: a worker's verdicts join the run's."""
        exported = getattr(node, "workeroutput", {}).get("conformance")
        if exported:
            self.suite.merge(json.loads(exported))
        elif error is not None:
            # a worker that died took its verdicts with it: the run cannot say it passed
            worker = getattr(getattr(node, "gateway", None), "id", "?")
            self.suite.crashes.append(f"the xdist worker {worker} went down: {error}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """A conformance test that raised anything but its verdict (pytest's fail or skip) is
        the suite's own code crashing: the run could not judge, and its verdict says so
        (broken)."""
        report = yield
        error = call.excinfo.value if call.excinfo is not None else None
        ours = {"conformance_operation", "conformance_scenario"} & set(_params(item))
        if isinstance(error, Exception) and ours:
            from conformance.suite import crashed

            self.suite.crashes.append(crashed(f"{item.name} ({call.when})", error))
        return report

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """An interrupt (Ctrl-C, SIGTERM, the run timeout's last resort) cuts the run short, and
        its verdict says so. xdist's stop after the first failure (``-x`` with ``-n``) is fail
        fast doing its job."""
        value = excinfo.value
        if type(value).__name__ == "Interrupted" and str(value).startswith("stopping after"):
            return
        if self.suite.timed_out():
            self.suite.cut_short = f"the run timeout of {self.suite.run_timeout_s or 0:g} s expired"
        elif not self.suite.cut_short:
            self.suite.cut_short = "the run was interrupted (Ctrl-C or SIGTERM) before it ended"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """After a test: its severity by the rules it broke, and its failures with their
        reproductions attached (Allure; nothing without ``--alluredir``)."""
        yield
        if not getattr(item.config.option, "allure_report_dir", None):
            return
        import allure

        suite = self.suite
        params = _params(item)
        rules: list[str] = []
        told = ""
        if "conformance_operation" in params:
            api, operation_id = params["conformance_operation"]
            target = suite.targets.get(api)
            operation = target.spec.operation(operation_id) if target is not None else None
            if operation is not None:
                allure.dynamic.title(title(operation=operation))  # type: ignore[no-untyped-call]
            verdict = suite.verdicts.get((api, operation_id))
            if verdict is not None and verdict.failures:
                rules, told = [failure.check for failure in verdict.failures], verdict.explain()
        elif "conformance_scenario" in params:
            scenario = suite.scenarios.get(tuple(params["conformance_scenario"]))
            kind = scenario.kind if scenario is not None else "scenario"
            allure.dynamic.title(title(scenario=params["conformance_scenario"][1], kind=kind))  # type: ignore[no-untyped-call]
            if scenario is not None and (scenario.failures or scenario.warnings):
                rules, told = [failure.rule for failure in scenario.failures], scenario.explain()
        allure.dynamic.severity(allure.severity_level(severity(rules)))  # type: ignore[no-untyped-call]
        if told:
            allure.attach(told, name="failures, with a curl to reproduce each",
                          attachment_type=allure.attachment_type.TEXT)  # fmt: skip

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        suite = self.suite
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller writes the reports
            workeroutput["conformance"] = json.dumps(suite.export())
            return
        # every worker has finished: a latency breach of the run is re-measured alone before
        # anything is written (its test was settled as xfail, pending this)
        suite.confirm_latency()
        run = suite.finish()
        if run is None:
            return
        results = getattr(session.config.option, "allure_report_dir", None)
        try:
            write_reports(
                suite.reports,
                run,
                allure_results=Path(results) if results else None,
                labels=_operation_labels(suite),
            )
        except Exception as error:  # the reports could not be written: the run cannot be trusted
            from conformance.suite import crashed

            suite.crashes.append(crashed("writing the reports", error))
            run = suite.finish()
            assert run is not None
            with contextlib.suppress(Exception):
                write_reports(suite.reports, run)
        suite.run = run
        if run.verdict != Verdict.PASS and session.exitstatus == 0:
            # plain pytest's status follows the verdict (an expired waiver, a crash recorded, a run
            # cut short); `conformance run` reads the verdict itself (`Run.exit_code`)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        suite = self.suite
        if not (suite.verdicts or suite.scenarios or suite.cut_short or suite.crashes):
            return
        run = suite.run or suite.finish()
        if run is None:
            return
        terminalreporter.section("conformance")
        for line in terminal_lines(run):
            terminalreporter.write_line(mask(line))
        reports = suite.reports
        written = (reports / name for name in ("verdict.json", "junit.xml", "summary.md"))
        terminalreporter.write_line(f"reports: {', '.join(map(str, written))}")
