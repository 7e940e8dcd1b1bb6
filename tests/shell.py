"""What tests use to run a reproduction the way a user does: pasted into bash, the credentials in
the environment, and the status curl got, read by curl itself (its config file in the test's
own ``CURL_HOME``), so that the line runs exactly as a report wrote it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

#: what curl is told beside the pasted line: be quiet, drop the body, print the status
CURLRC = '-s\n-o /dev/null\n-w "%{http_code}"\n'


def pasted(line: str, folder: Path, environment: Mapping[str, str]) -> int:
    """The status ``line`` (a curl reproduction) gets when pasted into bash with
    ``environment`` set (and nothing else of the test's, but ``PATH``): bounded to 20 s."""
    if shutil.which("bash") is None or shutil.which("curl") is None:
        pytest.skip("bash and curl are needed to paste a reproduction")
    home = folder / "curl-home"
    home.mkdir(exist_ok=True)
    (home / ".curlrc").write_text(CURLRC, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "CURL_HOME": str(home), **environment}
    done = subprocess.run(
        ["bash", "-c", line], env=env, capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 0, (line, done.stderr)
    return int(done.stdout.strip()[-3:])
