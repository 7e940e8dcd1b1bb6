"""The suite on the zoo (`tests.zoo`): third-party style APIs with plain specs of their own, as a
user brings them. Each clean app passes a fuzzing run with no failure, each planted bug is found
as its operation and check, and a run leaves the data it did not make as it was (a clean run:
all of it, cleanup included). Fast tests hold each spec lint-clean and each planted bug present
(a direct request shows it on the planted app and the documented answer on the clean one), so
that a run's test cannot pass on an app that lost its bug."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.cli import run
from conformance.suite._present import PLACEHOLDER
from tests.plain_specs import written
from tests.zoo import ZOO, Served, ZooApi, changed, made, running

SEED = "1"
PROFILE = "gate"
#: the requests of a clean run refused for their credential, at most, per operation (3 to 5
#: at seed 1; 11 to 27 when negative cases broke the credential too)
REFUSED_PER_OPERATION = 8


@pytest.mark.parametrize("name", list(ZOO))
def test_a_zoo_spec_lints_clean(name: str, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    spec = written(tmp_path, name, ZOO[name].spec)
    assert run(["lint", str(spec)], out, err) == 0, out.getvalue() + err.getvalue()


# -- each planted bug is there, and only in planted mode ---------------------------------------

#: per bug: the requests that show it (after the first ones, which set it up), and the status the
#: last one gets from the clean app and from the planted one
Steps = list[tuple[str, str, Any]]
SHOWN: dict[str, tuple[Steps, int, int]] = {
    "slug-collision": (
        [
            ("POST", "/articles", {"article": {"title": "Mine", "description": "", "body": "b"}}),
            ("PUT", "/articles/mine", {"article": {"title": "Welcome to Conduit!"}}),
        ],
        409,
        500,
    ),
    "int32-comment-id": ([("GET", "/articles/welcome-to-conduit/comments/2147483648", None)], 404,
                         500),
    "update-unvalidated": ([("PUT", "/articles/welcome-to-conduit", {"title": "no wrapper"})], 422,
                           200),
    "nul-in-q": ([("GET", "/items/?q=%00", None)], 200, 500),
    "limit-overflow": ([("GET", "/items/?limit=2147483648", None)], 200, 500),
    "use-after-delete": (
        [
            ("POST", "/items/", {"name": "Mine", "price": 1}),
            ("DELETE", "/items/4", None),
            ("GET", "/items/4", None),
        ],
        404,
        200,
    ),
    "key-collision": (
        [
            ("POST", "/projects", {"key": "MINE", "name": "Mine"}),
            ("PATCH", "/projects/MINE", {"key": "CORE"}),
        ],
        409,
        500,
    ),
    "nul-in-body": ([("POST", "/projects", {"key": "MINE", "name": "Mine\x00"})], 201, 500),
}  # fmt: skip
BUGS = [(api, bug) for api in ZOO.values() for bug in api.bugs]


def _sent(api: ZooApi, served: Served, steps: Steps) -> int:
    with httpx.Client(base_url=served.url, headers=api.headers, timeout=10) as client:
        statuses = [client.request(m, path, json=body).status_code for m, path, body in steps]
    return statuses[-1]


@pytest.mark.parametrize(("api", "bug"), BUGS, ids=[bug.name for _, bug in BUGS])
def test_each_planted_bug_is_there_and_only_when_planted(api: ZooApi, bug: Any) -> None:
    steps, clean, planted = SHOWN[bug.name]
    with running(api, planted=False) as served:
        assert _sent(api, served, steps) == clean
        assert served.app.hits == []
    with running(api, planted=True) as served:
        assert _sent(api, served, steps) == planted
        assert served.app.hits == [bug.name]


@pytest.mark.parametrize("name", list(ZOO))
def test_a_zoo_app_refuses_a_request_without_its_credential(name: str) -> None:
    with running(ZOO[name], planted=False) as served:
        paths = {"blog": "/articles", "inventory": "/items/", "vault": "/notes"}
        path = paths.get(name, "/projects")
        assert httpx.get(served.url + path, timeout=10).status_code == 401
        assert httpx.get(served.url + path, headers=ZOO[name].headers).status_code == 200


def test_the_inventory_reset_really_wipes_the_data() -> None:
    api = ZOO["inventory"]
    with running(api, planted=False) as served:
        before = served.app.snapshot()
        assert _sent(api, served, [("POST", "/items/", {"name": "Mine", "price": 1})]) == 201
        assert _sent(api, served, [("POST", "/admin/reset", None)]) == 200
        after = served.app.snapshot()
    assert len(after["items"]) == len(before["items"])  # the seed again, under new ids
    assert set(changed(before, after)) == {f"items/{key}" for key in before["items"]}


# -- a run on each app ------------------------------------------------------------------------


def _run(
    api: ZooApi, served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *more: str
) -> tuple[int, dict[str, Any], str]:
    for variable, value in api.environment.items():
        monkeypatch.setenv(variable, value)
    spec, reports = written(tmp_path, api.name, api.spec), tmp_path / "reports"
    (config := tmp_path / "conformance.toml").write_text(api.config, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["run", "--spec", str(spec), "--target", served.url, "-m", "fuzz", "--profile", PROFILE,
         "--seed", SEED, "--reports", str(reports), "--config", str(config),
         "-p", "no:cacheprovider", *more],
        out, err,
    )  # fmt: skip
    said = out.getvalue()[-4000:] + err.getvalue()[-4000:]
    assert api.token not in out.getvalue() + err.getvalue()
    document = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    return code, document, said


def _failed(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (op["operation_id"], failure["check"])
        for op in document["operations"]
        for failure in op["failures"]
    }


@pytest.mark.slow
# the clean vault's whole run (fuzzing, scenarios, probes) is test_zoo_vault's
@pytest.mark.parametrize("name", [name for name in ZOO if name != "vault"])
def test_a_clean_zoo_app_passes_and_keeps_its_data(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ZOO[name]
    with running(api, planted=False) as served:
        before = served.app.snapshot()
        code, document, said = _run(api, served, tmp_path, monkeypatch)
        after, refused = served.app.snapshot(), list(served.app.unauthorised)
    assert _failed(document) == set(), said
    assert (code, document["verdict"]) == (0, "pass"), said
    left = {"changed": changed(before, after), "left": made(before, after)}
    assert after == before, (left, document.get("cleanup"))
    # the run's credential is on every request but those about the credential itself (the
    # coverage phase's case without it, ignored_auth's probes without it and with a wrong
    # one): a negative case, a stateful phase's step too, breaks the request's own data, so it
    # is not refused at the door
    assert not [sent for _, sent in refused if PLACEHOLDER in sent]
    by_route = Counter(route for route, _ in refused)
    assert len(refused) <= REFUSED_PER_OPERATION * len(document["operations"]), by_route


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ZOO))
def test_each_planted_bug_of_a_zoo_app_is_found_and_its_data_kept(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ZOO[name]
    with running(api, planted=True) as served:
        before = served.app.snapshot()
        code, document, said = _run(api, served, tmp_path, monkeypatch)
        after, hits = served.app.snapshot(), set(served.app.hits)
    failed = _failed(document)
    for bug in api.bugs:
        assert bug.name in hits, f"{bug.name} never acted; failed: {sorted(failed)}"
        assert (bug.operation_id, bug.check) in failed, (bug, sorted(failed), said)
    assert (code, document["verdict"]) == (1, "fail"), said
    assert changed(before, after) == {}, document.get("cleanup")
