"""Hooks for ``st run`` against the reference backend (``SCHEMATHESIS_HOOKS``).

The contract's hooks (`conformance.checks`), and a session for the ``service`` principal from
``CONFORMANCE_ST_URL`` / ``_EMAIL`` / ``_PASSWORD``, logged in again after any 401 (the
stateful phase may log the run's own session out).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import schemathesis

import conformance.checks  # noqa: F401 - registers the contract's hooks


@schemathesis.auth(retry_on=[401])
class ServiceSession:
    def get(self, case: Any, ctx: Any) -> str:
        response = httpx.post(
            f"{os.environ['CONFORMANCE_ST_URL']}/auth/login",
            json={
                "email": os.environ["CONFORMANCE_ST_EMAIL"],
                "password": os.environ["CONFORMANCE_ST_PASSWORD"],
            },
            timeout=30,
        )
        response.raise_for_status()
        body = response.json()
        token: str = body.get("data", body)["tokens"]["accessToken"]
        return token

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
