from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from conformance import plugin
from conformance.config import RUN_OPTIONS, Option
from tests.options import given, no_setting_in_the_environment


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "conformance"]
    assert entry.load() is plugin


def test_plugin_markers_pass_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.api(name="tchat")
        @pytest.mark.module(tag="content")
        @pytest.mark.operation(id="getContentItems")
        @pytest.mark.fuzz
        def test_fuzzed():
            pass

        @pytest.mark.scenario
        def test_story():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-m", "fuzz and not scenario")
    result.assert_outcomes(passed=1, deselected=1)


def test_plugin_unknown_marker_still_fails_under_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.fuzzz
        def test_typo():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers")
    result.stdout.fnmatch_lines(["*'fuzzz' not found in `markers` configuration option*"])
    assert result.ret != 0


def test_plugin_profiles_are_the_suites() -> None:
    from conformance.suite import PROFILES

    assert tuple(PROFILES) == plugin.PROFILE_NAMES


def test_plugin_loads_no_schemathesis_until_a_run_needs_it() -> None:
    import subprocess
    import sys

    code = "import sys, conformance.plugin; print('schemathesis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_conformance_test_that_crashes_breaks_the_verdict(pytester: pytest.Pytester) -> None:
    """Anything a conformance test raises but its verdict (pytest's fail or skip) is the suite's
    own code crashing: verdict.json says broken and names the crash, never pass."""
    import json

    pytester.makepyfile(
        """
        import pytest

        def test_story(conformance_scenario, conformance_suite):
            if conformance_scenario[1] == "rollback":
                raise TypeError("int() argument must be a string, not 'NoneType'")
            pytest.skip("not this one")
        """
    )
    reports = pytester.path / "reports"
    result = pytester.runpytest(
        "--conformance-target", "tchat=http://127.0.0.1:9/api", "--conformance-reports",
        str(reports), "-p", "no:cacheprovider",
    )  # fmt: skip
    from conformance.suite.scenarios import NAMES, PROBES

    result.assert_outcomes(failed=1, skipped=len(NAMES) + len(PROBES) - 1)  # the registry's others
    document = json.loads((reports / "verdict.json").read_text())
    assert document["verdict"] == "broken"
    (crash,) = document["errors"]
    assert crash.startswith("test_story[tchat-rollback] (call) crashed: TypeError: int()"), crash


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [((), "", False), (("--conformance-require-exercised",), "", True), ((), "1", True)],
    ids=["default", "option", "environment"],
)
def test_require_exercised_reaches_the_run_from_its_option_or_the_environment(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    given: tuple[str, ...],
    environ: str,
    expected: bool,
) -> None:
    monkeypatch.setenv("CONFORMANCE_REQUIRE_EXERCISED", environ)
    pytester.makepyfile(
        f"""
        def test_setting(conformance_suite):
            assert conformance_suite.require_exercised is {expected}
        """
    )
    result = pytester.runpytest(
        "--conformance-target", "tchat=http://127.0.0.1:9/api", "--conformance-reports",
        str(pytester.path / "reports"), "-p", "no:cacheprovider", *given,
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_require_exercised_is_handed_to_pytest_and_so_to_every_xdist_worker() -> None:
    from conformance import config
    from conformance.contract import bundled_spec
    from conformance.runner import RunOptions, pytest_arguments

    targets = {"tchat": config.ResolvedTarget("http://127.0.0.1:9/api", bundled_spec("tchat"))}
    for required in (True, False):
        settings = config.load(None, {}, discover=False, require_exercised=required)
        arguments = pytest_arguments(targets, RunOptions(pytest_args=["-n", "2"]), settings)
        assert ("--conformance-require-exercised" in arguments) is required


def test_plugin_markers_help_names_the_registered_scenarios(pytester: pytest.Pytester) -> None:
    from conformance.suite.scenarios import NAMES

    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [f"@pytest.mark.scenario(name): a scripted scenario of one API ({', '.join(NAMES)})"]
    )
    assert result.ret == 0


@pytest.mark.parametrize(
    ("text", "wait", "latency"),
    [("[scenarios]\nlatency = false\n", None, False), ("[scenarios]\nmax_wait_s = 3\n", 3.0, True)],
    ids=["switch", "wait"],
)
def test_plugin_reads_the_scenario_switches_and_the_longest_wait(
    pytester: pytest.Pytester, text: str, wait: float | None, latency: bool
) -> None:
    from conformance.suite.scenarios import MAX_WAIT_S

    config = pytester.makefile(".toml", conformance=text)
    pytester.makepyfile(
        f"""
        def test_setting(conformance_suite):
            assert conformance_suite.max_wait_s == {wait or MAX_WAIT_S}
            assert conformance_suite.switches["latency"] is {latency}
            assert conformance_suite.switches["rollback"] is True
        """
    )
    result = pytester.runpytest(
        "--conformance-target", "tchat=http://127.0.0.1:9/api", "--conformance-config",
        str(config), "--conformance-reports", str(pytester.path / "reports"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "option",
    [option for option in RUN_OPTIONS if option.pytest_flag],
    ids=lambda option: option.pytest_flag,
)
def test_plugin_reads_each_setting_back_as_the_runner_hands_it_to_pytest(
    option: Option, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `conformance run` resolved reaches pytest, and every xdist worker, unchanged."""
    from conformance import config
    from conformance.runner import setting_arguments
    from conformance.suite.scenarios import NAMES, PROBES

    no_setting_in_the_environment(monkeypatch)
    _, value = given(option, pytester.path)
    settings = config.load(
        None, {}, discover=False, known_scenarios=NAMES, known_probes=PROBES, **{option.key: value}
    )
    parsed = pytester.parseconfig(*setting_arguments(settings))
    assert plugin._settings(parsed) == settings
