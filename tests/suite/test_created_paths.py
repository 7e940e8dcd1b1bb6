"""What a create made, learnt on any spec (`conformance.suite._journal.item_path_of`): from its
``Location``, else from the key its answer holds, whatever the path calls it, also in a wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.contract import Resource
from conformance.suite._guard import impossible
from conformance.suite._journal import item_path_of


def guard_case(method: str, path: str, phase: str = "fuzzing", **parameters: str) -> Any:
    """A valid case of ``phase`` as the guard reads it: its operation, path parameters, meta."""
    from types import SimpleNamespace

    meta = SimpleNamespace(
        generation=SimpleNamespace(mode="positive"), phase=SimpleNamespace(name=phase),
        components={},
    )  # fmt: skip
    return SimpleNamespace(
        operation=SimpleNamespace(method=method, path=path),
        path_parameters=parameters, body=None, meta=meta,
    )  # fmt: skip


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


@pytest.mark.parametrize("disposable", [True, False], ids=["disposable", "shared"])
def test_the_runs_own_account_is_never_written_even_where_data_is_disposable(
    tmp_path: Path, disposable: bool
) -> None:
    """A disposable run of a VAmPI style API deleted the account it logs in with (``DELETE
    /users/root``, drawn from the pool) and ended BROKEN when its token was renewed. A write
    that names one of the run's accounts in its path is guarded as on a shared target; any
    other goes where it was drawn there."""
    from types import SimpleNamespace

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from tests.plain_specs import document, json_answer, written
    from tests.servers import AnyMethod, serving

    name = {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
    user = {"type": "object", "properties": {"username": {"type": "string"}}}
    made = {"201": json_answer(user, "registered")}
    spec = load_spec(
        written(
            tmp_path,
            "accounts",
            document(
                "Accounts",
                {
                    "/users": {"post": {"operationId": "register", "responses": made,
                                        "requestBody": {"content": {"application/json": {
                                            "schema": user}}}}},
                    "/users/{username}": {
                        "parameters": [name],
                        "get": {"operationId": "getUser",
                                "responses": {"200": json_answer(user, "a user")}},
                        "delete": {"operationId": "deleteUser",
                                   "responses": {"204": {"description": "gone"}}},
                    },
                },
            ),
        )
    )  # fmt: skip

    class Accounts(AnyMethod):
        def _handle(self) -> None:
            known = self.path in ("/users/root", "/users/bob")
            self.send_json(200 if known else 404, {"username": self.path.rsplit("/", 1)[-1]})

    with serving(Accounts) as url:
        client = RunClient(url, lambda: None)
        guard = Guard(spec, Journal(tmp_path / "j.jsonl"), client, disposable=disposable,
                      accounts=["root", None])  # fmt: skip
        sent = {}
        for username in ("root", "bob"):
            delete = SimpleNamespace(
                operation=SimpleNamespace(method="DELETE", path="/users/{username}"),
                path_parameters={"username": username}, body=None, meta=None,
            )  # fmt: skip
            guard.before_call(delete)
            sent[username] = delete.path_parameters["username"]
        client.close()
    assert sent["root"] != "root"  # the run's own account, in either mode
    assert (sent["bob"] == "bob") is disposable  # another account: as drawn where disposable
    assert guard.rewritten == (1 if disposable else 2)


def test_a_write_inside_the_runs_item_asks_nothing_and_a_fuzzed_delete_makes_one_item(
    tmp_path: Path,
) -> None:
    """On a plain tracker (issues under projects): a write at an issue of the run's own project
    is the run's, and one under a project found absent is absent, neither asked with a ``GET``
    (the tracker's stateful phase asked 55 times); a fuzzed delete aimed at a project the run did
    not make goes to one it made, and once a delete was answered 2xx, to one it still has or to
    an absent key: an item made only to be deleted repeats what was judged (14 projects made
    for that at seed 5)."""

    import httpx

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from conformance.suite._present import Presentation
    from tests.plain_specs import written
    from tests.zoo import ZOO, running

    api = ZOO["tracker"]
    spec = load_spec(written(tmp_path, api.name, api.spec))

    case = guard_case

    def reads(served: Any) -> int:
        return sum(n for (method, _), n in served.app.served.items() if method == "GET")

    with running(api, planted=False) as served:
        client = RunClient(
            served.url, lambda: api.token, present=lambda *_: Presentation(dict(api.headers))
        )
        guard = Guard(spec, Journal(tmp_path / "j.jsonl"), client)
        own = guard.produce(guard.resources["/projects/{key}"])
        assert own is not None
        key = own.rsplit("/", 1)[1]
        before = reads(served)
        inside = case("PATCH", "/projects/{key}/issues/{number}", key=key, number="7")
        guard.before_call(inside)
        assert inside.path_parameters == {"key": key, "number": "7"}
        assert reads(served) == before
        # a project found absent (one GET) holds no issue: the next write under it asks nothing
        guard.before_call(case("DELETE", "/projects/{key}", key="NOPE"))
        assert reads(served) == before + 1
        for number in ("1", "2"):
            guard.before_call(
                case("DELETE", "/projects/{key}/issues/{number}", key="NOPE", number=number)
            )
        assert reads(served) == before + 1

        # a delete aimed at a seeded project goes to the run's; once one was answered, no
        # project is made for the next, which goes to an absent key: CORE stays
        first = case("DELETE", "/projects/{key}", key="CORE")
        guard.before_call(first)
        assert first.path_parameters == {"key": key}
        guard.after_call(first, client.send("DELETE", f"/projects/{key}"))
        made = guard.made
        second = case("DELETE", "/projects/{key}", key="CORE")
        guard.before_call(second)
        assert second.path_parameters["key"] not in ("CORE", key)
        assert guard.made == made
        # in the stateful phase the run's items may be a chain's: a delete aimed at another's
        # item goes to an absent key, and none is made for it
        chained = case("DELETE", "/projects/{key}", phase="stateful", key="WEB")
        guard.before_call(chained)
        assert chained.path_parameters["key"] != "WEB"
        assert guard.made == made
        absent = served.url + "/projects/" + chained.path_parameters["key"]
        assert httpx.get(absent, headers=api.headers).status_code == 404
        guard.settle()
        client.close()
        assert httpx.get(served.url + "/projects/CORE", headers=api.headers).status_code == 200


def test_a_chains_items_are_never_where_the_guard_sends_a_write_and_a_moved_key_is_no_failure(
    tmp_path: Path,
) -> None:
    """In the stateful phase a write aimed at another's item goes to one of the run's that the
    scenario under way has not made or addressed: a change sent to a project a chain used moved
    its key, and the chain's next step was a "created resource not found" of the guard's making.
    Such a 404 at the path the run's own change moved an item from is not counted at all."""

    import httpx
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from conformance.contract import load_spec
    from conformance.suite._client import RunClient
    from conformance.suite._guard import Guard
    from conformance.suite._journal import Journal
    from conformance.suite._present import Presentation
    from conformance.verdict import Failure
    from tests.plain_specs import written
    from tests.zoo import ZOO, running

    api = ZOO["tracker"]
    spec = load_spec(written(tmp_path, api.name, api.spec))

    def case(method: str, path: str, **parameters: str) -> Any:
        return guard_case(method, path, "stateful", **parameters)

    with running(api, planted=False) as served:
        client = RunClient(
            served.url, lambda: api.token, present=lambda *_: Presentation(dict(api.headers))
        )
        guard = Guard(spec, Journal(tmp_path / "j.jsonl"), client)
        projects = guard.resources["/projects/{key}"]
        made = [guard.produce(projects) for _ in range(5)]
        assert None not in made
        keys = [str(path).rsplit("/", 1)[1] for path in made]
        guard.before_call(case("GET", "/projects/{key}", key="CORE"))  # CORE is someone's

        @settings(max_examples=10, database=None, deadline=None)
        @given(st.integers())
        def scenario(_: int) -> None:
            for key in keys[1:]:  # the chain reads four of the run's projects
                guard.before_call(case("GET", "/projects/{key}", key=key))
            change = case("PATCH", "/projects/{key}", key="CORE")
            guard.before_call(change)
            assert change.path_parameters == {"key": keys[0]}

        scenario()

        # the run's change moves the key of its own project: a 404 of the old key's issue is
        # the API's right answer, one of a key the run never moved is a failure
        moved = case("PATCH", "/projects/{key}", key=keys[1])
        answer = client.send("PATCH", f"/projects/{keys[1]}", body={"key": "MOVED1"})
        assert answer.status_code == 200
        guard.after_call(moved, answer)

        def failure(check: str, key: str) -> Failure:
            example = {
                "path": "/projects/{key}/issues/{number}",
                "path_parameters": {"key": key, "number": 1},
            }
            return Failure(check, "t", "m", "stateful", 404, "curl", example)

        assert guard.moved_away(failure("ensure_resource_availability", keys[1]))
        assert not guard.moved_away(failure("ensure_resource_availability", keys[2]))
        assert not guard.moved_away(failure("not_a_server_error", keys[1]))

        # the mirror: the run deletes one of its projects, then its change gives another of its
        # projects that key; a read of it answering 200 is right, and no "deleted resource still
        # there" (use_after_free). Once the run deletes that one too, a 200 there is a failure.
        def read(check: str, key: str) -> Failure:
            example = {"path": "/projects/{key}", "path_parameters": {"key": key}}
            return Failure(check, "t", "m", "stateful", 200, "curl", example)

        def delete(key: str) -> None:
            answer = client.send("DELETE", f"/projects/{key}")
            assert answer.status_code == 204
            guard.after_call(case("DELETE", "/projects/{key}", key=key), answer)

        delete(keys[2])
        assert not guard.moved_onto(read("use_after_free", keys[2]))
        onto = case("PATCH", "/projects/{key}", key=keys[3])
        answer = client.send("PATCH", f"/projects/{keys[3]}", body={"key": keys[2]})
        assert answer.status_code == 200
        guard.after_call(onto, answer)
        assert guard.moved_onto(read("use_after_free", keys[2]))
        assert not guard.moved_onto(read("use_after_free", keys[4]))  # never moved onto
        assert not guard.moved_onto(read("ensure_resource_availability", keys[2]))
        delete(keys[2])  # the moved project, deleted at its new key
        assert not guard.moved_onto(read("use_after_free", keys[2]))
        guard.settle()
        client.close()
        assert httpx.get(served.url + "/projects/MOVED1", headers=api.headers).status_code == 200
