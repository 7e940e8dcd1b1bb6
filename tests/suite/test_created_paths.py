"""What a create made, learnt on any spec (`conformance.suite._journal.item_path_of`): from its
``Location``, else from the key its answer holds, whatever the path calls it, also in a wrapper."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.contract import Resource
from conformance.suite._guard import impossible
from conformance.suite._journal import item_path_of


def resource(item_path: str) -> Resource:
    return Resource(
        collection_path=item_path.rsplit("/", 1)[0], item_path=item_path, list=None,
        create=None, get=None, update=None, delete=None, actions=(), schema_name=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("item_path", "answer", "parameters", "expected"),
    [
        ("/schools/{id}", {"id": "7f3c", "name": "x"}, {}, "/schools/7f3c"),
        ("/articles/{slug}", {"article": {"slug": "how-to", "title": "T"}}, {}, "/articles/how-to"),
        ("/items/{item_id}", {"id": 4, "name": "bolt"}, {}, "/items/4"),
        ("/projects/{key}", {"key": "ABC", "name": "Alpha"}, {}, "/projects/ABC"),
        ("/articles/{slug}/comments/{id}", {"comment": {"id": 9}}, {"slug": "s"}, "/articles/s/comments/9"),  # noqa: E501
        ("/projects/{key}/issues/{number}", {"number": 3}, {"key": "K"}, "/projects/K/issues/3"),
        # the parent's key is the create's path parameter, which the answer need not repeat
        ("/articles/{slug}/comments/{id}", {"id": 9}, {}, None),
        ("/notes/{id}", {"title": "no key"}, {}, None),
        ("/notes/{id}", ["not", "an", "object"], {}, None),
    ],
)  # fmt: skip
def test_the_key_is_found_whatever_the_path_calls_it(
    item_path: str, answer: Any, parameters: dict[str, str], expected: str | None
) -> None:
    assert item_path_of(resource(item_path), answer, parameters) == expected


def test_a_location_header_wins_and_loses_the_base_urls_path() -> None:
    found = item_path_of(
        resource("/articles/{slug}"), {"article": {"slug": "body-slug"}}, {},
        "http://127.0.0.1:8000/api/articles/located", "/api",
    )  # fmt: skip
    assert found == "/articles/located"
    # a Location that is no item of the resource (a job's status page) is not taken
    elsewhere = item_path_of(resource("/articles/{slug}"), {"slug": "s"}, {}, "/jobs/1/status")
    assert elsewhere == "/articles/s"


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        (2**31, {"type": "integer", "format": "int32"}, True),
        (2**31 - 1, {"type": "integer", "format": "int32"}, False),
        (101, {"type": "integer", "maximum": 100}, True),
        (-5, {"type": "integer", "minimum": 1}, True),
        (2**40, {"type": "integer"}, False),
        ("abc", {"type": "integer"}, True),
        ("not-a-uuid", {"type": "string", "format": "uuid"}, True),
        ("0f0e0d0c-0b0a-4908-8706-050403020100", {"type": "string", "format": "uuid"}, False),
        ("toolong", {"type": "string", "maxLength": 3}, True),
        ("lower", {"type": "string", "pattern": "^[A-Z]+$"}, True),
        ("UPPER", {"type": "string", "pattern": "^[A-Z]+$"}, False),
    ],
)
def test_an_id_no_item_can_have_is_sent_without_asking(
    value: Any, schema: dict[str, Any], expected: bool
) -> None:
    assert impossible(value, schema) is expected
