"""What a create made, learnt on any spec (`conformance.suite._journal.item_path_of`): from its
``Location``, else from the key its answer holds, whatever the path calls it, also in a wrapper."""

from __future__ import annotations

from pathlib import Path
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


def test_a_create_whose_answer_names_nothing_is_reported_left_behind(tmp_path: Path) -> None:
    """VAmPI's ``POST /books/v1`` answers ``{"message": …}``: its books could not be found to
    be removed, and the cleanup said nothing of them."""
    from types import SimpleNamespace

    import httpx

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from conformance.verdict import Cleanup
    from tests.plain_specs import document, json_answer, written

    title = {"name": "title", "in": "path", "required": True, "schema": {"type": "string"}}
    spec = load_spec(
        written(
            tmp_path,
            "books",
            document(
                "Books",
                {
                    "/books": {"post": {"responses": {"200": json_answer({}, "added")}}},
                    "/books/{title}": {
                        "parameters": [title],
                        "get": {"responses": {"200": json_answer({}, "a book")}},
                    },
                },
            ),
        )
    )
    journal = Journal(tmp_path / "books.jsonl")
    guard = Guard(spec, journal, RunClient("http://127.0.0.1:9", lambda: None))
    create = SimpleNamespace(
        operation=SimpleNamespace(method="POST", path="/books"), path_parameters={}, body={}
    )
    guard.after_call(create, httpx.Response(200, json={"message": "Book added", "status": "ok"}))
    guard.after_call(create, httpx.Response(200, json={"title": "Dune"}))
    # a check's own request on the create's case (its OPTIONS, 200 with nothing) made nothing
    options = httpx.Request("OPTIONS", "http://127.0.0.1:9/books")
    guard.after_call(create, httpx.Response(200, request=options))
    assert [item.path for item in journal.pending()] == ["/books/Dune"]
    assert guard.unidentified == {"/books/{title}": 1}
    said = Cleanup(unidentified=guard.unidentified).lines("books")
    assert said[-1] == (
        "books: left behind (their creates' answers named no id or key to find them by):"
        " 1 /books/{title}"
    )


def test_a_change_that_moves_a_key_moves_the_item_and_its_children_in_the_journal(
    tmp_path: Path,
) -> None:
    """A new title is a new slug: the cleanup deleted the old one (a 404) and left the article
    and its comments. The old path stays journaled too: a RealWorld backend answered a new slug
    to an update and kept the old one."""
    from types import SimpleNamespace

    import httpx

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from tests.plain_specs import written
    from tests.zoo import ZOO

    spec = load_spec(written(tmp_path, "blog", ZOO["blog"].spec))
    journal = Journal(tmp_path / "blog.jsonl")
    guard = Guard(spec, journal, RunClient("http://127.0.0.1:9/api", lambda: None))

    def sent(method: str, path: str, answer: Any, **parameters: str) -> None:
        case = SimpleNamespace(
            operation=SimpleNamespace(method=method, path=path), path_parameters=parameters, body={}
        )
        guard.after_call(case, httpx.Response(201 if method == "POST" else 200, json=answer))

    sent("POST", "/articles", {"article": {"slug": "a-1"}})
    sent("POST", "/articles/{slug}/comments", {"comment": {"id": 7}}, slug="a-1")
    sent("PUT", "/articles/{slug}", {"article": {"slug": "b-2"}}, slug="a-1")
    assert sorted(item.path for item in journal.pending()) == [
        "/articles/a-1", "/articles/a-1/comments/7", "/articles/b-2", "/articles/b-2/comments/7",
    ]  # fmt: skip
    # a change whose answer keeps the key, or names none, moves nothing
    sent("PUT", "/articles/{slug}", {"article": {"title": "no slug"}}, slug="b-2")
    sent("PUT", "/articles/{slug}", {"article": {"slug": "b-2"}}, slug="b-2")
    assert len(journal.pending()) == 4
    # a new key no path can hold (a title that slugs to ""): the article is left, and said so
    sent("POST", "/articles", {"article": {"slug": "c-3"}})
    sent("PUT", "/articles/{slug}", {"article": {"slug": ""}}, slug="c-3")
    assert guard.unidentified == {"SingleArticleResponse": 1}
    journal.removed("/articles/c-3")
    # what the run deleted itself leaves the journal: the cleanup never deletes that id again
    # (an API that reuses ids may have given it to someone else's item by then)
    sent("DELETE", "/articles/{slug}/comments/{id}", None, slug="b-2", id="7")
    assert "/articles/b-2/comments/7" not in {item.path for item in journal.pending()}
    assert len(journal.pending()) == 3


def test_a_write_under_another_users_item_that_no_collection_holds_goes_nowhere(
    tmp_path: Path,
) -> None:
    """``DELETE /profiles/{username}/follow``: a RealWorld run unfollowed a user it had not made,
    since ``/profiles/{username}`` is no resource (nothing lists or creates profiles)."""
    from types import SimpleNamespace

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from tests.plain_specs import document, json_answer, written
    from tests.servers import AnyMethod, serving

    name = {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
    answer = {"200": json_answer({}, "the profile")}
    follow = {"responses": answer}
    spec = load_spec(
        written(
            tmp_path,
            "social",
            document(
                "Social",
                {
                    "/profiles/{username}": {"parameters": [name], "get": follow},
                    "/profiles/{username}/follow": {
                        "parameters": [name],
                        "post": {"operationId": "follow", "responses": answer},
                        "delete": {"operationId": "unfollow", "responses": answer},
                    },
                },
            ),
        )
    )  # fmt: skip

    class Profiles(AnyMethod):
        def _handle(self) -> None:
            self.send_json(200 if self.path == "/profiles/bystander" else 404, {})

    with serving(Profiles) as url:
        guard = Guard(spec, Journal(tmp_path / "j.jsonl"), RunClient(url, lambda: None))
        # nobody (a 404 to the run) may be someone's private profile: an id surely absent too
        for user, stays in (("bystander", False), ("nobody", False), ("no'body", True)):
            unfollow = SimpleNamespace(
                operation=SimpleNamespace(method="DELETE", path="/profiles/{username}/follow"),
                path_parameters={"username": user}, body=None, meta=None,
            )  # fmt: skip
            guard.before_call(unfollow)
            assert (unfollow.path_parameters["username"] == user) is stays, user
    assert guard.rewritten == 2
    # no profile can ever be the run's own: focused passes for the unfollow would only repeat
    # 404s (a RealWorld run spent 1,500 requests on them)
    assert guard.shut_out() == {"unfollow"}
