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
        ("Bearer someone-elses-token", "Bearer [masked: string, 19 chars]"),
        (
            '{"accessToken": "fresh-from-a-fuzzed-login"}',
            '{"accessToken": "[masked: string, 25 chars]"}',
        ),
        (
            '{"detail": "{\\"password\\":\\"x1\\"}"}',
            '{"detail": "{\\"password\\":\\"[masked: string, 2 chars]\\"}"}',
        ),
        ("token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. here", "token [masked: JWT, 36 chars] here"),
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


def test_a_masked_value_shows_it_was_there_what_it_was_and_how_long() -> None:
    exposed = json.dumps({"id": 7, "secret": "another-users-secret-123", "note": "hi"})
    masked = Masker().mask(exposed)
    # a response that exposed another user's secret shows the exposure, never the value
    assert json.loads(masked) == {"id": 7, "secret": "[masked: string, 24 chars]", "note": "hi"}
    assert Masker().mask(masked) == masked  # masking again changes nothing
    data = Masker().mask_data(json.loads(exposed))
    assert data["secret"] == "[masked: string, 24 chars]"
    assert Masker().mask_data(data) == data


def test_a_registered_secret_s_mask_keeps_json_valid_wherever_it_lands(masker: Masker) -> None:
    text = json.dumps({"echo": f'he said "{PASSWORD}"', "again": TOKEN})
    masked = masker.mask(text)
    assert json.loads(masked) == {
        "echo": 'he said "[masked: string, 21 chars]"',
        "again": "[masked: string, 23 chars]",
    }


@pytest.fixture
def named() -> Masker:
    """A registry where the run's token is what ``CONFORMANCE_BLOG_TOKEN`` holds."""
    masker = Masker()
    masker.add("opaque0123456789", variable="CONFORMANCE_BLOG_TOKEN")
    masker.add("unnamed-secret-value")
    return masker


@pytest.mark.parametrize(
    ("line", "reproduction"),
    [
        (  # the run's token by its variable; a query key as plain as its value is
            "curl -X GET -H 'Authorization: Bearer opaque0123456789' "
            "'http://h/x?key=opaque0123456789&page=2'",
            'curl -X GET -H "Authorization: Bearer $CONFORMANCE_BLOG_TOKEN" '
            '"http://h/x?key=$CONFORMANCE_BLOG_TOKEN&page=2"',
        ),
        (  # a credential the run did not give: its scheme and cookie names stay, values go
            "curl -X GET -H 'Authorization: Token someone-elses' "
            "-H 'Cookie: a=opaque0123456789; sid=xyz' http://h/x",
            "curl -X GET -H 'Authorization: Token [masked: string, 13 chars]' "
            '-H "Cookie: a=$CONFORMANCE_BLOG_TOKEN; sid=[masked: string, 3 chars]" http://h/x',
        ),
        (  # any other secret masked; text after a variable that would run into its name
            "curl -X GET -H 'X-Note: unnamed-secret-value' 'http://h/x?k=opaque0123456789abc'",
            "curl -X GET -H 'X-Note: [masked: string, 20 chars]' "
            '"http://h/x?k=${CONFORMANCE_BLOG_TOKEN}abc"',
        ),
        (  # an interactive shell expands ! inside double quotes: the literal text apart
            """curl -X POST -d '{"note": "hi!", "token": "opaque0123456789"}' http://h/x""",
            """curl -X POST -d "{\\"note\\": \\"hi"'!'"\\", \\"token\\": """
            """\\"$CONFORMANCE_BLOG_TOKEN\\"}" http://h/x""",
        ),
        (  # a comment schemathesis writes above a step, masked as text
            "# as writer (opaque0123456789)",
            "# as writer ([masked: string, 16 chars])",
        ),
        (  # a word in ANSI-C quotes (non-printable bytes) is masked as written, the rest named
            "curl -X POST -H 'Authorization: Bearer opaque0123456789' "
            '-d $\'{"t": "\\x01", "k": "unnamed-secret-value"}\' http://h/x',
            'curl -X POST -H "Authorization: Bearer $CONFORMANCE_BLOG_TOKEN" '
            '-d $\'{"t": "\\x01", "k": "[masked: string, 20 chars]"}\' http://h/x',
        ),
    ],
)
def test_a_reproduction_names_the_run_s_credentials_and_masks_every_other_secret(
    named: Masker, line: str, reproduction: str
) -> None:
    assert named.reproduction(line) == reproduction
    assert named.mask(reproduction) == reproduction  # the reports' own masking leaves it be
