"""The security probes on the reference backend, one table: the clean APIs pass every probe
that judges there, and each defect the probes prove is caught by its own rule, in this process,
on a backend of its own (the probes one after the other would spend the service's rate-limit
window). `tests/test_selftest.py` holds this table, with the scenarios' and the fuzzing's, to
the reference backend's every defect; `conformance selftest` runs them all as a user would.

The access probes (``bola``, ``function_level``) need a second account and, for the declared
roles, a read-only run: their defects are in `tests/suite/test_probes_access.py`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conformance.contract import bundled_spec, load_spec
from conformance.reference import DEFECTS, Running, running
from conformance.runner import embedded_settings
from conformance.suite import Credentials, Network, RunSession, check_access
from conformance.suite._journal import Journal
from conformance.suite.scenarios import ScenarioContext, ScenarioVerdict, run_scenario

QUICK = Network(timeout_s=5.0)

#: defect -> (api, probe, the rule that must catch it, words its finding says)
CAUGHT = {
    "weak-jwt-key": ("gloria", "authentication", "weak-jwt-secret", "6 characters"),
    "user-enumeration": ("tchat", "authentication", "user-enumeration", "does not exist"),
    "alg-none-accepted": ("tchat", "authentication", "forged-token-401", "alg none"),
    "no-login-throttle": ("gloria", "login_throttling", "login-throttling", "wrong passwords"),
    "mass-assignment-role": ("gloria", "mass_assignment", "mass-assignment", "`permissions`"),
    "password-hash-exposed": ("gloria", "exposure", "secret-exposed", "passwordHash` (an scrypt"),
    "limit-unenforced": ("gloria", "consumption", "maximum-enforced", "saying it used limit 101"),
    "sql-injection-search": ("gloria", "injection", "injection-signal", 'search="\'"'),
    "debug-endpoint": ("gloria", "debug_endpoints", "debug-endpoint", "GET /debug/vars"),
}
#: the probes whose clean pass is shown here (the access probes': in test_probes_access)
PROBES = (
    "authentication", "login_throttling", "mass_assignment", "exposure", "consumption",
    "injection", "debug_endpoints",
)  # fmt: skip


def rules(verdict: ScenarioVerdict) -> set[str]:
    return {f.rule for f in [*verdict.failures, *verdict.warnings]}


def reference_probe(backends: Running, api: str, name: str, folder: Path) -> ScenarioVerdict:
    """The probe ``name`` on a reference API, as its ``service`` principal."""
    service = backends.backend(api).credentials["service"]
    url, spec = backends.url(api), load_spec(bundled_spec(api))
    credentials = Credentials(api, username=service.email, password=service.password)
    way = check_access(spec, url, credentials, QUICK)
    assert way is not None
    session = RunSession(spec, url, credentials, QUICK, login=way.login, presenter=way.presenter)
    session.start()
    context = ScenarioContext(
        api, spec, url, credentials, QUICK, session.access_token, folder / f"{api}.jsonl",
        presenter=way.presenter,
    )  # fmt: skip
    verdict, _ = run_scenario(name, context)
    return verdict


def reference_run(api: str, name: str, defects: frozenset[str], folder: Path) -> ScenarioVerdict:
    """The probe ``name`` on a reference API of its own, with ``defects`` switched on."""
    settings = dataclasses.replace(embedded_settings(), defects=defects)
    with running([api], settings=settings) as backends:
        return reference_probe(backends, api, name, folder)


def nothing_left(folder: Path, api: str) -> bool:
    journal = folder / f"{api}.jsonl"
    return not journal.exists() or Journal(journal).pending() == []


@pytest.mark.parametrize("api", ["gloria", "tchat"])
@pytest.mark.parametrize("name", PROBES)
def test_the_clean_reference_backend_passes_the_probe(tmp_path: Path, api: str, name: str) -> None:
    verdict = reference_run(api, name, frozenset(), tmp_path)
    assert (verdict.outcome, rules(verdict)) == ("passed", set()), (verdict.reason, verdict)
    if name == "login_throttling":  # it did try: the limit answered
        passed = [s.title for s in verdict.steps if s.outcome == "passed"]
        assert any("wrong passwords" in title for title in passed), verdict.steps
    assert nothing_left(tmp_path, api)  # its accounts and resources removed


def test_each_defect_here_is_one_of_the_reference_backends_with_the_rule_in_its_rules() -> None:
    by_name = {defect.name: defect for defect in DEFECTS}
    for name, (api, _probe, rule, _says) in CAUGHT.items():
        assert by_name[name].api == api, name
        assert rule in by_name[name].rules, name


@pytest.mark.parametrize("defect", CAUGHT)
def test_a_reference_defect_is_caught_by_its_probe_rule(tmp_path: Path, defect: str) -> None:
    api, name, rule, says = CAUGHT[defect]
    verdict = reference_run(api, name, frozenset({defect}), tmp_path)
    assert verdict.outcome == "failed", (verdict.reason, verdict.steps)
    assert rule in rules(verdict), verdict.failures
    assert any(says in f.message for f in verdict.failures if f.rule == rule), verdict.failures
    # what a finding names is never a secret's value
    assert all("scrypt$16384$" not in f.message for f in verdict.failures)
    assert all("sqlite:///" not in f.message for f in verdict.failures)
    assert nothing_left(tmp_path, api)
