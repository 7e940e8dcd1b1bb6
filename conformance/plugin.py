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
import sys
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.contract import BUNDLED_APIS, bundled_spec, load_spec
from conformance.errors import ConformanceError, UsageError
from conformance.masking import mask, register
from conformance.reporting import allure_labels, severity, title, write_run_files, write_summary

if TYPE_CHECKING:
    from conformance.config import Settings
    from conformance.suite import SuiteSession, Target

#: the suite's example budgets (`conformance.suite.PROFILES`, imported only when a run needs it:
#: this plugin loads in every pytest run of the environment)
PROFILE_NAMES = ("smoke", "gate", "deep")

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
}
SUITE = pytest.StashKey["SuiteSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "API contract conformance")
    group.addoption(
        "--conformance-waivers",
        default=None,
        metavar="FILE",
        help="accepted failures with a reason, a ticket and an expiry date (waivers.toml)",
    )
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
        "--conformance-config",
        default=None,
        metavar="FILE",
        help="a conformance.toml (targets, profile, timeouts, TLS, proxy, read-only …)",
    )
    group.addoption(
        "--conformance-profile",
        default=None,
        choices=PROFILE_NAMES,
        help="the example budget: smoke, gate (default) or deep",
    )
    group.addoption(
        "--conformance-seed", type=int, default=None, help="the seed (default: a new one)"
    )
    group.addoption(
        "--conformance-reports",
        default=None,
        metavar="DIR",
        help="where verdict.json and junit.xml go (default: reports)",
    )
    group.addoption(
        "--conformance-read-only",
        action="store_const",
        const=True,
        default=None,
        help="send only GET, HEAD and OPTIONS (and the login); other operations are skipped",
    )
    group.addoption(
        "--conformance-shard",
        default=None,
        metavar="K/N",
        help="test the K-th of N shares of the operations (merge the reports with conformance"
        " merge)",
    )
    group.addoption(
        "--conformance-exclude-singletons",
        action="store_const",
        const=True,
        default=None,
        help="skip writes to singletons such as /system-config (default: restore them after)",
    )
    group.addoption(
        "--conformance-fail-fast",
        action="store_const",
        const=True,
        default=None,
        help="stop at the first failure: a sooner verdict (the scenarios run first; what is"
        " not reached is reported as skipped) (with -x)",
    )
    group.addoption(
        "--conformance-require-exercised",
        action="store_const",
        const=True,
        default=None,
        help="an operation never answered with a documented 2xx fails the gate on any spec"
        " (default: only under x-contract: strict; elsewhere it is untested, with the reason)",
    )
    group.addoption(
        "--conformance-run-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="the whole run's time: the engine and the scenarios stop there, and what was judged"
        " before is reported (the verdict says the run was cut short)",
    )
    group.addoption(
        "--conformance-request-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per request (default 30)",
    )
    group.addoption(
        "--conformance-insecure",
        action="store_const",
        const=False,
        default=None,
        dest="conformance_tls_verify",
        help="do not verify the targets' TLS certificates",
    )
    group.addoption(
        "--conformance-ca-bundle",
        default=None,
        metavar="FILE",
        help="verify the targets' certificates with this CA bundle",
    )
    group.addoption(
        "--conformance-proxy",
        default=None,
        metavar="URL",
        help="an HTTP(S) proxy for every request",
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
    from conformance.suite.scenarios import NAMES

    path = config.getoption("conformance_config")
    ca_bundle = config.getoption("conformance_ca_bundle")
    reports = config.getoption("conformance_reports")
    return settings_module.load(
        Path(path) if path else None,
        discover=False,
        known_scenarios=NAMES,
        profile=config.getoption("conformance_profile"),
        seed=config.getoption("conformance_seed"),
        reports=Path(reports) if reports else None,
        read_only=config.getoption("conformance_read_only"),
        exclude_singletons=config.getoption("conformance_exclude_singletons"),
        fail_fast=config.getoption("conformance_fail_fast"),
        require_exercised=config.getoption("conformance_require_exercised"),
        request_timeout_s=config.getoption("conformance_request_timeout"),
        run_timeout_s=config.getoption("conformance_run_timeout"),
        tls_verify=config.getoption("conformance_tls_verify"),
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        proxy=config.getoption("conformance_proxy"),
    )


def _targets(config: pytest.Config, settings: Settings) -> dict[str, Target]:
    from conformance import config as settings_module
    from conformance.suite import Credentials, Target

    urls = {name: target.url for name, target in settings.targets.items()}
    specs = {name: str(t.spec) for name, t in settings.targets.items() if t.spec is not None}
    urls.update(_pairs(config.getoption("conformance_target"), "--conformance-target"))
    specs.update(_pairs(config.getoption("conformance_spec"), "--conformance-spec"))
    targets = {}
    for api, url in urls.items():
        if api in specs:
            path = Path(specs[api])
        elif api in BUNDLED_APIS:
            path = bundled_spec(api)
        else:
            raise UsageError(
                f"--conformance-target {api}=…: no bundled spec is called {api!r}; give its spec"
                f" with --conformance-spec {api}=FILE"
            )
        spec = load_spec(path)
        secrets = settings_module.credentials(api, settings)
        credentials = Credentials(api, secrets.token, secrets.username, secrets.password)
        own = api in BUNDLED_APIS and path.resolve() == bundled_spec(api).resolve()
        targets[api] = Target(api, spec, url.rstrip("/"), credentials, own_spec=own)
    return targets


def pytest_configure(config: pytest.Config) -> None:
    for marker, meaning in MARKERS.items():
        if marker == "scenario(name)":
            meaning += _scenario_names(config)
        config.addinivalue_line("markers", f"{marker}: {meaning}")
    if not config.getoption("conformance_target", default=None) and not config.getoption(
        "conformance_config", default=None
    ):
        return
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

    suite = SuiteSession(
        targets,
        profile=settings.profile,
        reports=settings.reports,
        progress=progress,
        network=Network(settings.request_timeout_s, settings.tls, settings.proxy),
        read_only=settings.read_only,
        exclude_singletons=settings.exclude_singletons,
        fail_fast=settings.fail_fast,
        require_exercised=settings.require_exercised,
        switches=dict(settings.scenarios),
        run_timeout_s=run_timeout,
        deadline=deadline,
        **options,
    )
    shard = config.getoption("conformance_shard", default=None)
    if shard:
        from conformance.suite import Shard

        try:
            suite.shard = str(Shard.parse(shard))
        except ConformanceError as error:
            raise pytest.UsageError(str(error)) from None
    waivers = config.getoption("conformance_waivers", default=None)
    if waivers:
        from conformance.config import read_toml
        from conformance.suite import known_rules, parse_waivers

        try:
            data = read_toml(Path(waivers))
            suite.waivers = parse_waivers(Path(waivers), data, known_rules())
        except ConformanceError as error:
            raise pytest.UsageError(str(error)) from None
    config.stash[SUITE] = suite
    config.pluginmanager.register(Interrupts(suite), "conformance-interrupts")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_scenario" in metafunc.fixturenames:
        _scenario_items(metafunc)
    if "conformance_operation" not in metafunc.fixturenames:
        return
    suite = metafunc.config.stash.get(SUITE, None)
    params = []
    for api, target in (suite.targets if suite else {}).items():
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
    metafunc.parametrize("conformance_operation", params)


def _allure_marks(labels: dict[str, str]) -> list[pytest.MarkDecorator]:
    """allure-pytest reads a test's labels from these marks (what ``@allure.epic`` makes)."""
    return [pytest.mark.allure_label(value, label_type=name) for name, value in labels.items()]


def _scenario_names(config: pytest.Config) -> str:
    """The registered scenarios, for the ``scenario(name)`` marker's help where it is read
    (``pytest --markers``): other pytest runs of the environment import no suite for it."""
    if not config.getoption("markers", default=False):
        return ""
    from conformance.suite.scenarios import NAMES

    return f" ({', '.join(NAMES)})"


def _scenario_items(metafunc: pytest.Metafunc) -> None:
    """One item per API and registered scenario, in the order they run (the latency scenario
    last: it judges the samples of everything before it)."""
    from conformance.suite.scenarios import NAMES

    suite = metafunc.config.stash.get(SUITE, None)
    params = [
        pytest.param(
            (api, name),
            marks=[
                getattr(pytest.mark, api),
                pytest.mark.api(name=api),
                pytest.mark.scenario(name=name),
                pytest.mark.xdist_group(api),
                *_allure_marks(allure_labels(target.spec, scenario=name)),
            ],
            id=f"{api}-{name}",
        )
        for api, target in (suite.targets if suite else {}).items()
        for name in NAMES
    ]
    metafunc.parametrize("conformance_scenario", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--conformance-shard K/N``: keep this shard's operations (`conformance.suite.assign`).
    Fail fast: the scenarios first (seconds each, where the fuzzing takes a minute an API)."""
    suite = config.stash.get(SUITE, None)
    if suite is not None and suite.fail_fast:
        items.sort(key=lambda item: "conformance_scenario" not in _params(item))  # stable
    if suite is None or not suite.shard:
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


def _params(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec is not None else {}


def pytest_collection_finish(session: pytest.Session) -> None:
    suite = session.config.stash.get(SUITE, None)
    if suite is None:
        return
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "conformance_operation" in callspec.params:
            api, operation_id = callspec.params["conformance_operation"]
            suite.selected.setdefault(api, set()).add(operation_id)


@pytest.fixture(scope="session")
def conformance_suite(request: pytest.FixtureRequest) -> SuiteSession:
    suite = request.config.stash.get(SUITE, None)
    if suite is None:
        pytest.skip("no --conformance-target given")
    return suite


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: every worker runs with the controller's seed and grouping."""
    suite = node.config.stash.get(SUITE, None)
    if suite is not None:
        node.workerinput["conformance_seed"] = suite.seed
        node.workerinput["conformance_deadline"] = suite.deadline


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist, on the controller: with ``-n N`` (``--dist load`` or ``loadgroup``) an API's items
    go to one worker, which runs the API's engine once, links and all. xdist's own
    ``loadgroup`` cannot do it under pytest 9.2: it renames ``item._nodeid``, which pytest no
    longer reads, so the groups never reach the controller."""
    suite = config.stash.get(SUITE, None)
    if suite is None or config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    prefixes = tuple(f"[{api}-" for api in suite.targets)

    class ByApi(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            for prefix in prefixes:
                if prefix in nodeid:
                    return prefix.strip("[-")
            return nodeid

    return ByApi(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist, on the controller: a worker's verdicts join the run's."""
    suite = node.config.stash.get(SUITE, None)
    exported = getattr(node, "workeroutput", {}).get("conformance")
    if suite is not None and exported:
        suite.merge(json.loads(exported))
    if suite is not None and error is not None and not exported:
        # a worker that died took its verdicts with it: the run cannot say it passed
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        suite.crashes.append(f"the xdist worker {worker} went down: {error}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A conformance test that raised anything but its verdict (pytest's fail or skip) is the
    suite's own code crashing: the run could not judge, and its verdict says so (broken)."""
    report = yield
    suite = item.config.stash.get(SUITE, None)
    error = call.excinfo.value if call.excinfo is not None else None
    ours = {"conformance_operation", "conformance_scenario"} & set(_params(item))
    if suite is not None and isinstance(error, Exception) and ours:
        from conformance.suite import crashed

        suite.crashes.append(crashed(f"{item.name} ({call.when})", error))
    return report


class Interrupts:
    """Registered for a run (pytest's keyboard-interrupt hook is given no config): an interrupt
    (Ctrl-C, SIGTERM, the run timeout's last resort) cuts the run short, and its verdict says
    so. xdist's stop after the first failure (``-x`` with ``-n``) is fail fast doing its job."""

    def __init__(self, suite: SuiteSession) -> None:
        self.suite = suite

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        value = excinfo.value
        if type(value).__name__ == "Interrupted" and str(value).startswith("stopping after"):
            return
        if self.suite.timed_out():
            self.suite.cut_short = f"the run timeout of {self.suite.run_timeout_s or 0:g} s expired"
        elif not self.suite.cut_short:
            self.suite.cut_short = "the run was interrupted (Ctrl-C or SIGTERM) before it ended"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a test: its severity by the rules it broke, and its failures with their
    reproductions attached (Allure; nothing without ``--alluredir``)."""
    yield
    suite = item.config.stash.get(SUITE, None)
    if suite is None or not getattr(item.config.option, "allure_report_dir", None):
        return
    import allure

    params = getattr(getattr(item, "callspec", None), "params", {})
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
        allure.dynamic.title(title(scenario=params["conformance_scenario"][1]))  # type: ignore[no-untyped-call]
        scenario = suite.scenarios.get(tuple(params["conformance_scenario"]))
        if scenario is not None and scenario.failures:
            rules, told = [failure.rule for failure in scenario.failures], scenario.explain()
    allure.dynamic.severity(allure.severity_level(severity(rules)))  # type: ignore[no-untyped-call]
    if told:
        allure.attach(told, name="failures, with a curl to reproduce each",
                      attachment_type=allure.attachment_type.TEXT)  # fmt: skip


def _operation_labels(suite: SuiteSession) -> dict[tuple[str, str], dict[str, str]]:
    """Each operation's Allure labels, for the per-check results the controller writes."""
    return {
        (api, str(operation.operation_id)): allure_labels(target.spec, operation=operation)
        for api, target in suite.targets.items()
        for operation in target.spec.operations
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    suite = session.config.stash.get(SUITE, None)
    if suite is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the reports
        workeroutput["conformance"] = json.dumps(suite.export())
        return
    # every worker has finished: a latency breach of the run is re-measured alone before
    # anything is written (its test was settled as xfail, pending this)
    suite.confirm_latency()
    document = suite.finish()
    if document is None:
        return
    results = getattr(session.config.option, "allure_report_dir", None)
    try:
        if results:
            write_run_files(Path(results), document, labels=_operation_labels(suite))
        write_summary(suite.reports, document)
    except Exception as error:  # the reports could not be written: the run cannot be trusted
        from conformance.suite import crashed

        suite.crashes.append(crashed("writing the reports", error))
        document = suite.finish()
        assert document is not None
        with contextlib.suppress(Exception):
            write_summary(suite.reports, document)
    if document["verdict"] != "pass" and session.exitstatus == 0:
        # plain pytest's status follows the verdict (an expired waiver, a crash recorded, a run
        # cut short); `conformance run` reads the verdict itself (`exit_code`)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    suite = terminalreporter.config.stash.get(SUITE, None)
    if suite is None or not (suite.verdicts or suite.scenarios or suite.cut_short or suite.crashes):
        return
    terminalreporter.section("conformance")
    for line in suite.summary():
        terminalreporter.write_line(mask(line))
    reports = suite.reports
    terminalreporter.write_line(
        f"reports: {reports / 'verdict.json'}, {reports / 'junit.xml'}, {reports / 'summary.md'}"
    )
