"""Sharding: an operation stays with the operations its links join it to, every operation is in
exactly one shard, and the shards' reports merge into the verdict of the whole run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conformance.cli import run
from conformance.contract import BUNDLED_APIS, Spec, bundled_spec, load_spec
from conformance.errors import UsageError
from conformance.suite._shard import Shard, assign, link_groups, resource_root
from tests.plain_specs import written
from tests.zoo import ZOO, running


def specs() -> dict[str, Spec]:
    return {api: load_spec(bundled_spec(api)) for api in BUNDLED_APIS}


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_every_operation_is_in_one_shard_and_link_groups_stay_together(count: int) -> None:
    loaded = specs()
    owner = assign(loaded, count)
    everything = {
        (api, str(op.operation_id)) for api, spec in loaded.items() for op in spec.operations
    }
    assert set(owner) == everything
    assert set(owner.values()) <= set(range(1, count + 1))
    for api, spec in loaded.items():
        for group in link_groups(spec):
            assert len({owner[(api, name)] for name in group}) == 1, group
    assert assign(loaded, count) == owner  # every CI job computes the same


def test_a_plain_spec_s_nested_resources_stay_with_their_parents(tmp_path: Path) -> None:
    """The tracker declares no links: its issues, made under a project, go with the projects
    (a shard of issues alone never made a project, and 3 of its 5 operations got no 2xx)."""
    api = ZOO["tracker"]
    groups = link_groups(load_spec(written(tmp_path, api.name, api.spec)))
    (projects,) = [group for group in groups if "createProject" in group]
    assert {"createIssue", "getIssue", "listIssues", "deleteProject"} <= set(projects)
    assert resource_root("/projects/{key}/issues/{number}") == "/projects"
    assert resource_root("/items/") == resource_root("/items/{item_id}") == "/items"
    assert resource_root("/admin/reset") == "/admin/reset"


def test_links_join_a_resource_s_operations() -> None:
    groups = link_groups(load_spec(bundled_spec("gloria")))
    (schools,) = [group for group in groups if "createSchool" in group]
    assert {"getSchool", "deleteSchool", "createDepartment"} <= set(schools)


@pytest.mark.parametrize("text", ["3", "0/2", "3/2", "a/b"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


@pytest.mark.slow
def test_the_shards_reports_merge_into_the_whole_runs_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the zoo's vault (a plain spec, logged in through ``[targets.vault.login]``): each
    shard fuzzes its own operations, and their reports merge into one verdict of them all."""
    api = ZOO["vault"]
    for variable, value in api.environment.items():
        monkeypatch.setenv(variable, value)
    spec = written(tmp_path, api.name, api.spec)
    (config := tmp_path / "conformance.toml").write_text(api.config, encoding="utf-8")
    with running(api, planted=False) as served:
        for k in (1, 2):
            code = run(
                ["run", "--spec", str(spec), "--target", served.url, "--profile", "gate",
                 "--seed", "5", "--shard", f"{k}/2", "--reports", str(tmp_path / f"shard{k}"),
                 "--config", str(config), "-p", "no:cacheprovider", "-q", "-m", "fuzz"],
                out := io.StringIO(), io.StringIO(),
            )  # fmt: skip
            assert code == 0, out.getvalue()[-3000:]
    operations = len(load_spec(spec).operations)
    parts = [json.loads((tmp_path / f"shard{k}" / "verdict.json").read_text()) for k in (1, 2)]
    first, second = ({op["operation_id"] for op in part["operations"]} for part in parts)
    assert first
    assert second
    assert not first & second
    out, err = io.StringIO(), io.StringIO()
    code = run(["merge", str(tmp_path / "shard1"), str(tmp_path / "shard2"),
                "--reports", str(tmp_path / "all")], out, err)  # fmt: skip
    assert code == 0, err.getvalue()
    merged = json.loads((tmp_path / "all" / "verdict.json").read_text())
    assert merged["counts"]["operations"] == operations
    assert merged["shards"] == ["1/2", "2/2"]
    assert f"conformance: PASS: all {operations} operations tested conform (seed" in out.getvalue()
    summary = (tmp_path / "all" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ Conformance: PASS\n")
    assert "Merged from 2 reports (shards 1/2, 2/2)." in summary
    # a shard's reports missing: the merged verdict cannot be trusted
    code = run(["merge", str(tmp_path / "shard1"), "--reports", str(tmp_path / "part")],
               out, err)  # fmt: skip
    assert code == 2
    assert "shards 2/2 are missing" in err.getvalue()
