"""The run's own requests to one API beside the engine's: the guard's probes, the singletons'
reads and writes back, the cleanup's deletes. They carry the run's credential as its scheme
presents it (`Presenter.at`), renewed once after a 401, so that an expired token is never
mistaken for an answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from conformance.errors import ConformanceError
from conformance.suite._engine import DEFAULT_NETWORK, Network
from conformance.suite._present import NOTHING, Presentation

#: how a request carries a credential: (method, path, credential) -> what it carries
Present = Callable[[str, str, str | None], Presentation]


def as_bearer(method: str, path: str, token: str | None) -> Presentation:
    """A token as ``Authorization: Bearer`` (where the run says no other way)."""
    return Presentation({"Authorization": f"Bearer {token}"}) if token else NOTHING


class RunClient:
    """One connection pool for the run's own requests to one API (thread-safe)."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str | None],
        network: Network = DEFAULT_NETWORK,
        renew: Callable[[str | None], str | None] | None = None,
        present: Present = as_bearer,
    ) -> None:
        self.url = url.rstrip("/")
        #: the run's access token now, and a fresh one after a 401 (given the one refused)
        self.token, self.renew = token, renew
        self.present = present
        self.timeout_s = network.timeout_s
        self._client = httpx.Client(**network.httpx_options())

    def close(self) -> None:
        self._client.close()

    def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> httpx.Response:
        """One request with the run's token; a 401 (the token expired, or a fuzzed logout
        revoked it) is retried once with a renewed one, so that a probe never mistakes an
        expired token for an answer and the cleanup is not refused its deletes."""
        token = self.token()
        answer = self._request(method, path, headers, body, token)
        if answer.status_code != 401 or self.renew is None:
            return answer
        try:
            fresh = self.renew(token)
        except ConformanceError:  # no login possible now: the 401 is the answer
            return answer
        return self._request(method, path, headers, body, fresh) if fresh else answer

    def _request(
        self, method: str, path: str, headers: dict[str, str] | None, body: Any, token: str | None
    ) -> httpx.Response:
        presented = self.present(method, path, token)
        sent = presented.httpx_headers(headers)
        params = dict(presented.params) or None
        if body is None:
            return self._client.request(method, self.url + path, headers=sent, params=params)
        return self._client.request(method, self.url + path, headers=sent, params=params, json=body)
