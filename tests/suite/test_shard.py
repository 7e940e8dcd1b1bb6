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
from conformance.reference import Settings, running
from conformance.runner import EMBEDDED_RATE_LIMITS
from conformance.suite._shard import Shard, assign, link_groups
from tests.suite.helpers import as_service


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
    with running(["tchat"], settings=Settings(rate_limits=EMBEDDED_RATE_LIMITS)) as backends:
        as_service(monkeypatch, backends, "tchat")
        for k in (1, 2):
            code = run(
                ["run", "--target", f"tchat={backends.url('tchat')}", "--profile", "gate",
                 "--seed", "5", "--shard", f"{k}/2", "--reports", str(tmp_path / f"shard{k}"),
                 "-p", "no:cacheprovider", "-q", "-m", "fuzz"],
                io.StringIO(), io.StringIO(),
            )  # fmt: skip
            assert code == 0
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
    assert merged["counts"]["operations"] == 20
    assert merged["shards"] == ["1/2", "2/2"]
    assert "conformance: PASS: all 20 operations tested conform (seed" in out.getvalue()
    summary = (tmp_path / "all" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ Conformance: PASS\n")
    assert "Merged from 2 reports (shards 1/2, 2/2)." in summary
    # a shard's reports missing: the merged verdict cannot be trusted
    code = run(["merge", str(tmp_path / "shard1"), "--reports", str(tmp_path / "part")],
               out, err)  # fmt: skip
    assert code == 2
    assert "shards 2/2 are missing" in err.getvalue()
