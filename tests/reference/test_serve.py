"""``conformance serve`` as a user runs it: in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PASSWORD = "a-test-only-password"


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``conformance serve ARGS`` until the block ends; yields the process and api -> URL."""
    env = {**os.environ, "CONFORMANCE_GLORIA_SERVICE_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    urls: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Ctrl-C stops."):
            break
        if line.startswith(" "):  # a principal of the API above
            continue
        name, _, value = line.partition(" ")
        urls[name] = value.strip()
    try:
        yield process, urls
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def login(url: str) -> dict[str, str]:
    response = httpx.post(
        f"{url}/auth/login", json={"email": "service@gloria.example", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['data']['tokens']['accessToken']}"}


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_urls_answers_and_stops_cleanly(stop: signal.Signals) -> None:
    with serving("all") as (process, urls):
        assert set(urls) == {"gloria", "tchat", "database"}
        assert urls["gloria"].startswith("http://127.0.0.1:")
        assert urls["gloria"].endswith("/api/v1")
        assert urls["tchat"].endswith("/api")
        health = httpx.get(f"{urls['gloria']}/auth/health")
        assert health.json()["data"]["status"] == "healthy"
        process.send_signal(stop)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped")
    assert "Traceback" not in err


@pytest.mark.slow
def test_serve_keeps_its_data_in_db_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "reference.sqlite3"
    with serving("gloria", "--db", str(db)) as (process, urls):
        headers = login(urls["gloria"])
        created = httpx.post(
            f"{urls['gloria']}/schools",
            headers=headers,
            json={"code": "KEPT-1", "npsn": "40000001", "name": "Kept school",
                  "level": "elementary",
                  "address": {"street": "Jalan 1", "city": "Solo", "province": "Jawa Tengah",
                              "postalCode": "57111"}},
        ).json()["data"]  # fmt: skip
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    with serving("gloria", "--db", str(db)) as (process, urls):
        assert urls["database"] == str(db)
        school = httpx.get(
            f"{urls['gloria']}/schools/{created['id']}", headers=login(urls["gloria"])
        )
        assert school.json()["data"] == created
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--db", "/no/such/folder/x.sqlite3"], "the folder /no/such/folder does not exist"),
        (["--db", "."], "is a folder; give a file path"),
        (["--db", "README.md"], "cannot open the database README.md: file is not a database"),
        (["--host", "0.0.0.0"], "'0.0.0.0' is not a loopback address"),
        (["--port", "70000"], "70000 is not a port number"),
    ],
)
def test_serve_bad_input_is_one_line_and_exit_3(args: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "serve", "gloria", *args],
        capture_output=True, text=True, timeout=60, check=False,
        cwd=Path(__file__).parent.parent.parent,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1


def test_serve_an_unknown_api_is_one_line_and_exit_3() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "serve", "elsewhere"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 3
    assert "invalid choice: 'elsewhere' (choose from 'gloria', 'tchat', 'all')" in result.stderr


def test_serve_a_port_in_use_is_one_line_and_exit_3() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "conformance", "serve", "gloria", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.slow
def test_serve_prints_the_principals_but_not_a_password_from_the_environment() -> None:
    env = {**os.environ, "CONFORMANCE_GLORIA_SERVICE_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "gloria",
         "--defect", "stale-version-accepted"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C stops."):
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    principals = {
        line.split()[0]: line.split() for line in lines if line.startswith("  ") and "@" in line
    }
    assert set(principals) == {"service", "admin", "manager", "staff1", "staff2"}
    told = [line.strip() for line in lines if line.startswith("  ") and "@" not in line]
    assert told == [
        "rate limit every operation: 60/60 s per principal (public operations: per client"
        " address), service 6000/60 s",
        "rate limit login: 5/60 s per client and account",
        "access tokens live 900 s",
        "DEFECT stale-version-accepted: updateSchool applies a change made from an old version"
        " (lost update) (breaks §5 a stale version is 409)",
    ]
    assert principals["service"][1:] == [
        "service", "service@gloria.example", "(from", "$CONFORMANCE_GLORIA_SERVICE_PASSWORD)",
    ]  # fmt: skip
    assert PASSWORD not in "".join(lines)
    staff = principals["staff1"]
    assert staff[1:3] == ["staff", "staff1@gloria.example"]
    assert len(staff[3]) >= 20  # generated for this database
