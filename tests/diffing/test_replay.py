"""``conformance diff OLD NEW --target URL``: the old spec's requests replayed against the new
backend, its answers judged by the old spec. A backend that renamed a response member without
changing its spec passes the static diff and fails here; one that honours its spec passes both."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conformance.cli import run
from tests.diffing.test_pairs import flags, op
from tests.servers import AnyMethod, serving

FLAGS = {"f1": {"id": "f1", "name": "dark mode", "state": "on", "rollout": 10}}


class FlagsApp(AnyMethod):
    """The Flags API as its spec says; ``renamed``: ``name`` answered as ``title``, the spec
    unchanged (a refactor that slipped through)."""

    renamed: ClassVar[bool] = False
    requests: ClassVar[list[str]] = []

    def _handle(self) -> None:
        path = self.path.split("?")[0]
        FlagsApp.requests.append(f"{self.command} {path}")
        if self.command == "GET" and path == "/flags":
            self.send_json(200, [self.shown(flag) for flag in FLAGS.values()])
        elif self.command == "GET" and path.startswith("/flags/"):
            flag = FLAGS.get(path.removeprefix("/flags/"))
            if flag is None:
                self.send_json(404, {"error": "Not Found", "code": "NOT_FOUND",
                                     "message": "no such flag", "statusCode": 404})  # fmt: skip
            else:
                self.send_json(200, self.shown(flag))
        elif self.command == "POST" and path == "/flags":
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            made = {"id": "f2", "name": str(body.get("name", "x")), "state": "off"}
            self.send_json(201, self.shown(made))
        else:
            self.send_json(405, None, Allow="GET, POST")

    def shown(self, flag: dict[str, Any]) -> dict[str, Any]:
        if not self.renamed:
            return flag
        return {("title" if key == "name" else key): value for key, value in flag.items()}


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    data = flags()
    op(data, "get")["parameters"] = [{"name": "id", "in": "path", "required": True,
                                      "schema": {"type": "string"}, "example": "f1"}]  # fmt: skip
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[str]:
    FlagsApp.renamed = bool(getattr(request, "param", False))
    FlagsApp.requests = []
    with serving(FlagsApp) as url:
        yield url


def diff(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["diff", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


def test_replay_an_honest_backend_passes_with_what_was_sent(spec: Path, app: str) -> None:
    code, out, err = diff("--target", app, spec, spec)
    assert (code, err) == (0, ""), out
    line = out.splitlines()[1]
    sent = len(FlagsApp.requests)
    assert line.startswith(
        f"replayed {sent} requests of the old spec on 2 operations against {app}"
    )
    assert "left out: POST /flags: writes (replayed on a disposable target only);" in line
    assert "DELETE /flags/{id}: needs credentials" in line
    # GETs only, and the example's flag among them
    assert {r.split()[0] for r in FlagsApp.requests} == {"GET"}
    assert "GET /flags/f1" in FlagsApp.requests


@pytest.mark.parametrize("app", [True], indirect=True)
def test_replay_catches_a_member_renamed_that_the_static_diff_misses(spec: Path, app: str) -> None:
    assert diff(spec, spec)[0] == 0  # the spec did not change
    code, out, _ = diff("--format", "json", "--target", app, spec, spec)
    document = json.loads(out)
    assert code == 1
    broken = {c["operation"]: c for c in document["changes"]}
    assert set(broken) == {"GET /flags", "GET /flags/{id}"}
    change = broken["GET /flags/{id}"]
    assert (change["id"], change["class"]) == ("old-client-broken", "breaking")
    assert "response_schema_conformance" in change["explanation"]
    (curl,) = change["detail"]
    assert re.fullmatch(rf"curl -X GET '?{re.escape(app)}/flags/f1'?", curl), curl
    assert document["replay"]["operations"] == 2


@pytest.mark.parametrize("app", [True], indirect=True)
def test_replay_is_bounded_and_writes_only_on_a_disposable_target(spec: Path, app: str) -> None:
    code, out, _ = diff("--target", app, "--max-requests", "1", spec, spec)
    assert len(FlagsApp.requests) == 1
    assert "stopped at 1 requests: 1 operations not replayed" in out
    assert code == 1  # GET /flags already answered without `name`
    FlagsApp.requests.clear()
    diff("--target", app, "--environment", "disposable", "--max-requests", "12", spec, spec)
    assert any(r == "POST /flags" for r in FlagsApp.requests)
    assert len(FlagsApp.requests) <= 12


def test_replay_an_unreachable_target_is_exit_2(spec: Path) -> None:
    with serving(FlagsApp) as url:
        pass  # the port is free again
    code, out, err = diff("--target", url, spec, spec)
    assert (code, out) == (2, "")
    assert err.strip() == f"--target {url}: cannot connect; is the new backend running there?"


class SecuredFlagsApp(FlagsApp):
    """The Flags API whose reads need a bearer token (``sekrit``): 401 without it."""

    def _handle(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            FlagsApp.requests.append(f"{self.command} {self.path.split('?')[0]} (no token)")
            self.send_json(401, {"error": "Unauthorized", "code": "UNAUTHENTICATED",
                                 "message": "a token, please", "statusCode": 401})  # fmt: skip
            return
        super()._handle()


TOKEN = "sekrit-token-7f3a"


def test_replay_presents_the_apis_token_to_its_secured_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # reads behind a bearer scheme: replayed with CONFORMANCE_<API>_TOKEN (the API named
    # after NEW's file, or by --target NAME=URL), the token shown by its variable only
    data = flags()
    op(data, "get")["parameters"] = [{"name": "id", "in": "path", "required": True,
                                      "schema": {"type": "string"}, "example": "f1"}]  # fmt: skip
    data["security"] = [{"bearer": []}]
    path = tmp_path / "flags.v2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    FlagsApp.requests, FlagsApp.renamed = [], True
    try:
        with serving(SecuredFlagsApp) as url:
            monkeypatch.delenv("CONFORMANCE_FLAGS_TOKEN", raising=False)
            code, out, _ = diff("--target", url, path, path)
            assert code == 0  # nothing it could judge: the reads need the token
            assert "GET /flags: needs credentials (a token in CONFORMANCE_<API>_TOKEN)" in out
            assert FlagsApp.requests == []
            monkeypatch.setenv("CONFORMANCE_FLAGS_TOKEN", TOKEN)
            code, out, _ = diff("--format", "json", "--target", url, path, path)
            monkeypatch.setenv("CONFORMANCE_RENAMED_TOKEN", TOKEN)
            monkeypatch.delenv("CONFORMANCE_FLAGS_TOKEN")
            named, by_name, _ = diff("--target", f"renamed={url}", path, path)
    finally:
        FlagsApp.renamed = False
    assert (code, named) == (1, 1)  # the renamed member, seen through the token
    assert not [r for r in FlagsApp.requests if r.endswith("(no token)")]
    document = json.loads(out)
    broken = {c["operation"]: c for c in document["changes"]}
    assert set(broken) >= {"GET /flags", "GET /flags/{id}"}
    (curl,) = broken["GET /flags/{id}"]["detail"]
    assert curl.endswith('-H "Authorization: Bearer $CONFORMANCE_FLAGS_TOKEN"'), curl
    assert TOKEN not in out + by_name
