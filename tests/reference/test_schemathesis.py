"""schemathesis's own ``st run``, with all its checks, finds nothing on the reference backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import BUNDLED_APIS, RateLimit
from conformance.reference import Settings, running

ROOT = Path(__file__).parent.parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_st_run_with_every_check_finds_nothing(api: str) -> None:
    # A backend of its own: the fuzzer deletes and changes what other tests rely on. The stateful
    # phase logs the run's session out again and again, and the hook logs in after each: more
    # than login's 5 a minute per account. (Our own run fuzzes logout with throwaway sessions.)
    relaxed = Settings(rate_limits={"operation:login": RateLimit(1000, 60)})
    with running([api], settings=relaxed) as reference:
        summary = _st_run(reference.url(api), reference.backend(api).credentials["service"], api)
    assert " passed" in summary
    assert "failure" not in summary.split("SUMMARY")[-1], summary


def _st_run(url: str, credential: Any, api: str) -> str:
    env = {
        **os.environ,
        "CONFORMANCE_ST_URL": url,
        "CONFORMANCE_ST_EMAIL": credential.email,
        "CONFORMANCE_ST_PASSWORD": credential.password,
        "SCHEMATHESIS_HOOKS": "tests.reference.st_hooks",
        "PYTHONPATH": str(ROOT),
    }
    st = str(Path(sys.executable).parent / "st")
    spec = str(ROOT / "specs" / f"{api}.openapi.yaml")
    result = subprocess.run(
        [
            st, "run", spec, "--url", url, "--checks", "all", "--max-examples", "3",
            "--continue-on-failure", "--seed", "7", "--no-color",
        ],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    return summary
