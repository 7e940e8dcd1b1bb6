"""The case-shaping hook: what it does to a generated case, by mode and phase."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from conformance.checks._hooks import shape_case


def case(
    headers: dict[str, str], body: Any, *, positive: bool = True, phase: str = "fuzzing"
) -> Any:
    mode = SimpleNamespace(is_positive=positive)
    meta = SimpleNamespace(generation=SimpleNamespace(mode=mode), phase=SimpleNamespace(name=phase))
    return SimpleNamespace(headers=dict(headers), body=body, meta=meta)


def test_a_positive_case_without_a_read_version_changes_unconditionally() -> None:
    shaped = shape_case(
        None, case({"If-Match": '"7"', "X-Request-ID": "a"}, {"name": "x", "version": 3})
    )
    assert shaped.headers == {"X-Request-ID": "a"}
    assert shaped.body == {"name": "x"}


def test_a_body_of_only_a_version_keeps_it() -> None:
    shaped = shape_case(None, case({}, {"version": 3}))
    assert shaped.body == {"version": 3}


def test_a_stateful_step_keeps_the_linked_etag_and_the_body_follows_it() -> None:
    shaped = shape_case(
        None, case({"If-Match": '"2"'}, {"name": "x", "version": 5}, phase="stateful")
    )
    assert shaped.headers == {"If-Match": '"2"'}
    assert shaped.body == {"name": "x", "version": 2}


def test_a_version_written_as_a_float_is_a_version() -> None:
    shaped = shape_case(
        None, case({"If-Match": '"1"'}, {"name": "x", "version": 927182.0}, phase="stateful")
    )
    assert shaped.body == {"name": "x", "version": 1}
    assert shape_case(None, case({}, {"name": "x", "version": 5.0})).body == {"name": "x"}


def test_a_negative_case_is_left_to_probe() -> None:
    shaped = shape_case(None, case({"If-Match": "nonsense"}, {"version": "x"}, positive=False))
    assert shaped.headers == {"If-Match": "nonsense"}
    assert shaped.body == {"version": "x"}


def test_framing_headers_are_left_to_the_http_client_in_every_mode() -> None:
    for positive in (True, False):
        shaped = shape_case(
            None, case({"Content-Length": "PlMn", "N": "p", "Host": "x"}, None, positive=positive)
        )
        assert shaped.headers == {"N": "p"}
