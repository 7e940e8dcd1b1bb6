"""Secrets masked by value in everything a run writes: the masker itself, and the reports."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from conformance import verdict as verdicts
from conformance.contract import bundled_spec, load_spec
from conformance.masking import MASK, Masker, encodings, registered_forms
from conformance.reporting import write_junit
from conformance.suite._engine import OperationRecord
from conformance.suite._verdict import judge
from conformance.verdict import Failure, Run

PASSWORD = "correct-horse-battery"
TOKEN = "opaque_token_0123456789"


@pytest.fixture
def masker() -> Masker:
    masker = Masker()
    masker.add(TOKEN)
    masker.add_basic("ci@example.com", PASSWORD)
    return masker


@pytest.mark.parametrize(
    "text",
    [
        f"password={PASSWORD}",
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("="),
        urllib.parse.quote(f"{PASSWORD}&"),
        json.dumps({"echo": TOKEN}),
        "Authorization: Basic " + base64.b64encode(f"ci@example.com:{PASSWORD}".encode()).decode(),
    ],
)
def test_a_registered_secret_is_masked_in_every_encoding(masker: Masker, text: str) -> None:
    masked = masker.mask(text)
    assert MASK in masked
    assert not any(form in masked for form in encodings(PASSWORD) | encodings(TOKEN))


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Bearer someone-elses-token", "Bearer [masked]"),
        ('{"accessToken": "fresh-from-a-fuzzed-login"}', '{"accessToken": "[masked]"}'),
        (
            '{"detail": "{\\"password\\":\\"x1\\"}"}',
            '{"detail": "{\\"password\\":\\"[masked]\\"}"}',
        ),
        ("token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. here", "token [masked] here"),
    ],
)
def test_secrets_the_run_never_saw_are_masked_by_shape(text: str, masked: str) -> None:
    assert Masker().mask(text) == masked


def test_what_is_not_a_secret_is_left_alone() -> None:
    text = 'WWW-Authenticate: Bearer error="invalid_token"; {"name": "Grade 5", "version": 3}'
    assert Masker().mask(text) == text


def test_the_reports_hold_no_form_of_a_secret_a_backend_echoed(
    tmp_path: Path, masker: Masker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("conformance.masking.SECRETS", masker)
    monkeypatch.setattr("conformance.verdict.mask", masker.mask)
    monkeypatch.setattr("conformance.reporting._junit.mask", masker.mask)
    record = OperationRecord("GET /content", "getContentItems")
    record.statuses[200] = 1
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    record.failures.append(
        Failure(
            "no_leaks",
            f"echoed {TOKEN}",
            f"the body says password={urllib.parse.quote(PASSWORD)}",
            "fuzzing",
            200,
            f"curl -H 'X-Debug: {encoded}' http://127.0.0.1/api/content",
            {"query": {"q": PASSWORD}},
        )
    )
    verdict = judge("tchat", load_spec(bundled_spec("tchat")), record)
    run = Run([verdict], [], 1, "smoke")
    verdicts.write(tmp_path / "verdict.json", run)
    write_junit(tmp_path / "junit.xml", run)
    written = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "the body says" in written  # the failure is there, its secrets are not
    forms = registered_forms([PASSWORD, TOKEN])
    assert not [form for form in forms if form in written]
