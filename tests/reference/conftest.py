"""The real reference backend, on free loopback ports, for the tests of this folder."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi import checks

from conformance.contract import Spec
from conformance.reference import Backend, Running, running

#: The checks of schemathesis that judge one response on its own.
RESPONSE_CHECKS = (
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
)

_unique = itertools.count(1)


def unique() -> int:
    """A number no other call in this test session gets (for unique keys)."""
    return next(_unique)


@dataclass
class Api:
    """One API of the running backend, with a client logged in as ``service``."""

    name: str
    url: str
    backend: Backend
    client: httpx.Client
    schema: Any = field(repr=False)

    @property
    def spec(self) -> Spec:
        return self.backend.spec

    def login(self, principal: str) -> dict[str, Any]:
        """A fresh session of a seeded principal: the login response body (enveloped or not)."""
        credential = self.backend.credentials[principal]
        response = httpx.post(
            f"{self.url}/auth/login",
            json={"email": credential.email, "password": credential.password},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        session: dict[str, Any] = body.get("data", body)
        return session

    def client_as(self, principal: str) -> httpx.Client:
        tokens = self.login(principal)["tokens"]
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {tokens['accessToken']}"},
            timeout=30,
        )

    def validate(self, method: str, path: str, response: httpx.Response, **case: Any) -> None:
        """Judge ``response`` as schemathesis judges it (raises on any breach)."""
        operation = self.schema[path][method.upper()]
        operation.Case(**case).validate_response(response, checks=RESPONSE_CHECKS)


@pytest.fixture(scope="session")
def reference() -> Iterator[Running]:
    with running() as backends:
        yield backends


def _api(reference: Running, name: str) -> Iterator[Api]:
    url = reference.url(name)
    backend = reference.backend(name)
    schema = schemathesis.openapi.from_path(backend.spec.path)
    schema.config.update(base_url=url)
    api = Api(name, url, backend, httpx.Client(base_url=url, timeout=30), schema)
    tokens = api.login("service")["tokens"]
    api.client.headers["Authorization"] = f"Bearer {tokens['accessToken']}"
    yield api
    api.client.close()


@pytest.fixture(scope="session")
def gloria(reference: Running) -> Iterator[Api]:
    yield from _api(reference, "gloria")


@pytest.fixture(scope="session")
def tchat(reference: Running) -> Iterator[Api]:
    yield from _api(reference, "tchat")
