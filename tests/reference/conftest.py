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

ERROR_FIELDS = {"error", "code", "message", "statusCode", "timestamp", "path", "requestId"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is an ErrorResponse of ``status`` and ``code`` with the headers of §8."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= ERROR_FIELDS, body
    assert set(body) <= ERROR_FIELDS | {"errors", "details", "retryable", "retryAfter"}
    assert (body["statusCode"], body["code"]) == (status, code)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == body["requestId"]
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers
    return body


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
    #: the clients `client_as` made, closed with this Api
    opened: list[httpx.Client] = field(default_factory=list, repr=False)

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
        client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {tokens['accessToken']}"},
            timeout=30,
        )
        self.opened.append(client)
        return client

    def validate(self, method: str, path: str, response: httpx.Response, **case: Any) -> None:
        """Judge ``response`` as schemathesis judges it (raises on any breach)."""
        operation = self.schema[path][method.upper()]
        operation.Case(**case).validate_response(response, checks=RESPONSE_CHECKS)


@pytest.fixture(scope="session")
def reference() -> Iterator[Running]:
    with running() as backends:
        yield backends


def open_api(reference: Running, name: str) -> Iterator[Api]:
    """An `Api` of a running backend, its client logged in as ``service``."""
    url = reference.url(name)
    backend = reference.backend(name)
    schema = schemathesis.openapi.from_path(backend.spec.path)
    schema.config.update(base_url=url)
    api = Api(name, url, backend, httpx.Client(base_url=url, timeout=30), schema)
    tokens = api.login("service")["tokens"]
    api.client.headers["Authorization"] = f"Bearer {tokens['accessToken']}"
    yield api
    api.client.close()
    for client in api.opened:
        client.close()


@pytest.fixture(scope="session")
def gloria(reference: Running) -> Iterator[Api]:
    yield from open_api(reference, "gloria")


@pytest.fixture(scope="session")
def tchat(reference: Running) -> Iterator[Api]:
    yield from open_api(reference, "tchat")
