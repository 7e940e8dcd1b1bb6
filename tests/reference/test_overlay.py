"""``conformance serve API --overlay FILE``: the backend serves its spec as the overlay changes
it (a declaration the hand-written spec does not make is honoured)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx

from conformance import reference
from conformance.cli import run

#: login's own limit, down from 5 to 1 a minute per client and account
STRICTER_LOGIN = """\
overlay: 1.0.0
info: {title: a stricter login, version: "1"}
actions:
  - target: $.paths['/auth/login'].post
    update:
      x-rate-limit: {limit: 1}
"""


def test_serve_honours_the_declarations_its_overlay_writes(tmp_path: Path) -> None:
    overlay = tmp_path / "login.overlay.yaml"
    overlay.write_text(STRICTER_LOGIN, encoding="utf-8")
    settings = reference.Settings(overlays={"tchat": overlay})
    with reference.running(["tchat"], settings=settings) as started:
        login = started.backend("tchat").spec.operation("login")
        assert login is not None
        assert login.rate_limit is not None
        assert (login.rate_limit.limit.limit, login.rate_limit.key) == (1, "client-account")
        answers = [
            httpx.post(
                f"{started.url('tchat')}/auth/login",
                json={"email": "nobody@tchat.example", "password": "not-the-password"},
            ).status_code
            for _ in range(2)
        ]
    assert answers == [401, 429]  # the spec's own limit (5) would answer 401 twice


def test_serve_overlay_names_one_api(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["serve", "--overlay", str(tmp_path / "x.yaml")], out, err)
    assert code == 3
    assert err.getvalue() == (
        "conformance serve --overlay FILE: an overlay is written for one API's spec; name it"
        " (conformance serve tchat --overlay FILE)\n"
    )


def test_serve_refuses_a_declaration_its_overlay_wrote_badly_at_the_overlay_s_line(
    tmp_path: Path,
) -> None:
    overlay = tmp_path / "login.overlay.yaml"
    overlay.write_text(STRICTER_LOGIN.replace("limit: 1", "limit: 0"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(["serve", "tchat", "--overlay", str(overlay)], out, err) == 3
    assert err.getvalue() == (
        f"{overlay}:6: /paths/~1auth~1login/post/x-rate-limit/limit: x-rate-limit: 0 is less than"
        " the minimum of 1 (run conformance lint)\n"
    )
