"""The one 429 wait policy (`conformance.checks._patience`): how long a ``Retry-After`` says, the
bounds, when to give up, and which 429s are throttled (never judged); and the three loops over
it (the transport, the run's own login, a scenario's story), each bounded in sends against an
app that is never done throttling."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from conformance.checks import NO_WAIT, WaitPolicy, throttled
from conformance.checks._patience import retry_after_s
from conformance.checks._transport import ENGINE_WAITS, mount
from conformance.contract import load_spec
from conformance.suite._auth import LOGIN_WAITS, AuthError, _call
from conformance.suite._engine import DEFAULT_NETWORK
from conformance.suite.scenarios._story import Exhausted, Story
from tests.plain_specs import document, written
from tests.servers import AnyMethod, serving


def _429(retry_after: str | None = "2") -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": retry_after} if retry_after else {})


def test_patience_waits_each_retry_after_until_the_sends_are_spent() -> None:
    patience = ENGINE_WAITS.patience()
    waits = [patience.wait_s(_429()) for _ in range(ENGINE_WAITS.tries or 0)]
    assert waits == [2.0, 2.0, 2.0, 2.0, None]  # the fifth send is the last
    assert patience.gave_up
    assert patience.waited_s == 8.0


@pytest.mark.parametrize(
    ("policy", "retry_after", "sends"),
    [
        (WaitPolicy(longest_wait_s=10.0), "11", 1),  # longer than the longest single wait
        (WaitPolicy(total_wait_s=5.0), "2", 3),  # 2 + 2, then 2 more would pass 5 in all
        (NO_WAIT, "0", 1),
    ],
)
def test_patience_gives_up_at_a_bound(policy: WaitPolicy, retry_after: str, sends: int) -> None:
    patience = policy.patience()
    answers = [patience.wait_s(_429(retry_after)) for _ in range(sends)]
    assert answers[-1] is None
    assert None not in answers[:-1]
    assert patience.gave_up


def test_an_answer_that_is_not_a_429_saying_when_stands_and_is_no_give_up() -> None:
    for answer in (httpx.Response(200), _429(None), _429("soon")):
        patience = WaitPolicy().patience()
        assert patience.wait_s(answer) is None
        assert not patience.gave_up


def test_a_margin_is_slept_on_top_and_an_http_date_is_read_only_where_asked() -> None:
    assert WaitPolicy(margin_s=0.1).patience().wait_s(_429("3")) == pytest.approx(3.1)
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert WaitPolicy().patience().wait_s(_429(soon)) is None
    waited = WaitPolicy(dates=True).patience().wait_s(_429(soon))
    assert waited is not None
    assert 25 < waited <= 30
    assert retry_after_s(" 7 ") == 7.0


def test_only_a_429_in_whole_seconds_is_throttled() -> None:
    assert throttled(429, "3")
    assert not throttled(429, None)  # the backend's fault: judged
    assert not throttled(429, email.utils.formatdate(usegmt=True))  # §6 asks for seconds
    assert not throttled(503, "3")


class _Throttling(AnyMethod):
    """Answers every request 429 with ``Retry-After: 0``: never done throttling."""

    sent = 0

    def _handle(self) -> None:
        type(self).sent += 1
        self.send_json(429, {"code": "RATE_LIMITED"}, Retry_After="0")


@pytest.fixture
def throttling() -> Iterator[tuple[type[_Throttling], str]]:
    """The never-done app on a free loopback port: its handler (which counts) and its URL."""
    handler = type("Throttling", (_Throttling,), {"sent": 0})
    with serving(handler) as url:
        yield handler, url


def test_the_transport_sends_a_request_at_most_its_tries(
    throttling: tuple[type[_Throttling], str],
) -> None:
    app, url = throttling
    with mount(requests.Session()) as session:
        response = session.get(url + "/anything")
    assert response.status_code == 429  # passed on, for the record to count as throttled
    assert app.sent == ENGINE_WAITS.tries


def test_the_runs_login_gives_up_after_its_sends_in_one_sentence(
    throttling: tuple[type[_Throttling], str],
) -> None:
    app, url = throttling
    with pytest.raises(AuthError, match=r"^notes: POST .*/login stays rate limited \(429\)$"):
        _call("notes", "POST", url + "/login", LOGIN_WAITS, DEFAULT_NETWORK, json={})
    assert app.sent == LOGIN_WAITS.tries  # a Retry-After of 0 cannot make it spin


def test_a_story_waits_within_its_own_requests_or_not_at_all(
    throttling: tuple[type[_Throttling], str], tmp_path: Path
) -> None:
    app, url = throttling
    ok = {"200": {"description": "the things"}}
    paths = {"/things": {"get": {"operationId": "listThings", "responses": ok}}}
    spec = load_spec(written(tmp_path, "things", document("Things", paths)))
    operation = spec.operation("listThings")
    assert operation is not None
    story = Story("things", "rate_limits", spec, url, DEFAULT_NETWORK, max_requests=7,
                  max_seconds=30)  # fmt: skip
    try:
        assert story.send(operation, retry_429=False, attached=False).status_code == 429
        with pytest.raises(Exhausted, match="the scenario's 7 requests are spent"):
            story.send(operation, attached=False)
    finally:
        story.close()
    assert app.sent == 7
