"""The collections scenario on a spec that is not ours: a small Shelf app with the plain spec a
FastAPI-style service publishes (offset paging with ``limit`` and ``offset``, items under
``items`` with a ``total``, a ``genre`` enum filter, a ``q`` search over titles, no ``x-``
declarations). Paging and filters are read from its parameters: it passes when it keeps its
lists' promises, leaving its bystanders' books as they were and none of its own, and each broken
promise fails the scenario by its rule: a deleted book still listed, a page that repeats the
last item of the one before, a filter ignored, a total that counts the unfiltered set. The same
in cursor form (``next_cursor``, or a ``Link`` header alone), an Archive whose names say nothing
until an overlay declares ``x-paging``, and the zoo's inventory, whose planted use-after-delete
fails ``deleted-unlisted``. Also: how paging and filters are read (`contract.paging`,
`contract.filters`) and what a malformed ``x-paging`` is."""

from __future__ import annotations

import io
import itertools
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conformance.cli import run
from conformance.contract import filters, load_spec, paging
from tests.plain_specs import FASTAPI_ERRORS, document, json_answer, ref, written
from tests.servers import AnyMethod, serving
from tests.zoo import ZOO, changed, running

GENRES = ["fiction", "poetry", "history"]
BOOK_ID = {"name": "book_id", "in": "path", "required": True, "schema": {"type": "integer"}}
NOT_FOUND = json_answer(ref("HTTPError"), "Not Found")
INVALID = json_answer(ref("HTTPValidationError"), "Validation Error")

SHELF: dict[str, Any] = document(
    "Shelf",
    {
        "/books": {
            "get": {
                "operationId": "list_books",
                "parameters": [
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "genre", "in": "query", "schema": {"type": "string", "enum": GENRES}},
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                ],
                "responses": {"200": json_answer(ref("BookPage"), "A page of books"),
                              "422": INVALID},
            },
            "post": {
                "operationId": "create_book",
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": ref("NewBook")}}},
                "responses": {"201": json_answer(ref("Book"), "Created"), "422": INVALID},
            },
        },
        "/books/{book_id}": {
            "get": {
                "operationId": "get_book",
                "parameters": [BOOK_ID],
                "responses": {"200": json_answer(ref("Book"), "A book"), "404": NOT_FOUND,
                              "422": INVALID},
            },
            "delete": {
                "operationId": "delete_book",
                "parameters": [BOOK_ID],
                "responses": {"204": {"description": "Deleted"}, "404": NOT_FOUND,
                              "422": INVALID},
            },
        },
    },
    {"schemas": {
        **FASTAPI_ERRORS,
        "NewBook": {
            "type": "object",
            "required": ["title", "genre"],
            "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 200},
                           "genre": {"type": "string", "enum": GENRES}},
        },
        "Book": {
            "type": "object",
            "required": ["id", "title", "genre"],
            "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                           "genre": {"type": "string", "enum": GENRES}},
        },
        "BookPage": {
            "type": "object",
            "required": ["items", "total", "limit", "offset"],
            "properties": {"items": {"type": "array", "items": ref("Book")},
                           "total": {"type": "integer"}, "limit": {"type": "integer"},
                           "offset": {"type": "integer"}},
        },
    }},
)  # fmt: skip


def cursor_paged(spec: dict[str, Any]) -> dict[str, Any]:
    """The Shelf's spec with cursor paging: ``cursor`` in place of ``offset``, a page that says
    where the next one starts (``next_cursor``; or only a ``Link`` header) and no total."""
    changed: dict[str, Any] = json.loads(json.dumps(spec))
    listing = changed["paths"]["/books"]["get"]
    listing["parameters"][1] = {"name": "cursor", "in": "query", "schema": {"type": "string"}}
    changed["components"]["schemas"]["BookPage"] = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Book")},
                       "next_cursor": {"type": "string", "nullable": True}},
    }  # fmt: skip
    return changed


def bare_paged(spec: dict[str, Any]) -> dict[str, Any]:
    """The Shelf's spec as FastAPI's tutorial writes a list: ``offset`` and ``limit``, no search,
    and a bare array for an answer (no total)."""
    changed: dict[str, Any] = json.loads(json.dumps(spec))
    listing = changed["paths"]["/books"]["get"]
    listing["parameters"] = listing["parameters"][:3]
    listing["responses"]["200"] = json_answer({"type": "array", "items": ref("Book")}, "The books")
    return changed


#: the books other clients keep on the shelf: the run must leave them as they are
BYSTANDERS: list[dict[str, Any]] = [
    {"id": n, "title": f"Bystander book {n}", "genre": GENRES[n % 3]} for n in range(1, 8)
]


class Shelf:
    """The app's data, and the promise it breaks (``broken``: None keeps them all)."""

    def __init__(self, broken: str | None) -> None:
        self.broken = broken
        self.books = {book["id"]: dict(book) for book in BYSTANDERS}
        self.deleted: list[dict[str, Any]] = []
        self.ids = itertools.count(100)
        self.lock = threading.Lock()

    def page(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        try:
            limit = int(query.get("limit", "10"))
            offset = int(query.get("offset" if "offset" in query else "cursor", "0"))
        except ValueError:
            return 422, {"detail": [{"loc": ["query"], "msg": "not an integer", "type": "int"}]}, {}
        genre, text = query.get("genre"), query.get("q", "").lower()
        if not 1 <= limit <= 50 or offset < 0 or (genre is not None and genre not in GENRES):
            return 422, {"detail": [{"loc": ["query"], "msg": "out of range", "type": "value"}]}, {}
        books = sorted(self.books.values(), key=lambda book: book["id"])
        if self.broken == "ghost":  # deleted books stay on the list
            books += self.deleted
        books = [book for book in books if text in book["title"].lower()]
        unfiltered = len(books)
        if genre is not None and self.broken != "filter-ignored":
            books = [book for book in books if book["genre"] == genre]
        total = unfiltered if self.broken == "unfiltered-total" else len(books)
        overlapping = self.broken in ("overlapping-page", "bare-overlapping-page")
        start = offset - 1 if overlapping and offset > 0 else offset
        if self.broken is not None and self.broken.startswith("cursor"):
            return self.cursor_page(books, query, limit, offset)
        if self.broken is not None and self.broken.startswith("bare"):
            return 200, books[start : start + limit], {}
        return 200, {"items": books[start : start + limit], "total": total, "limit": limit,
                     "offset": offset}, {}  # fmt: skip

    def cursor_page(
        self, books: list[dict[str, Any]], query: dict[str, str], limit: int, start: int
    ) -> tuple[int, Any, dict[str, str]]:
        """A page that says where the next starts: in ``next_cursor``, or (``cursor-link``) in
        a ``Link`` header alone; ``cursor-overlap`` points one item back."""
        end = start + limit
        following = end - 1 if self.broken == "cursor-overlap" else end
        cursor = str(following) if end < len(books) else None
        if self.broken == "cursor-link":
            kept = urlencode({**query, "cursor": cursor})
            link = {"Link": f'</books?{kept}>; rel="next"'} if cursor else {}
            return 200, {"items": books[start:end]}, link
        return 200, {"items": books[start:end], "next_cursor": cursor}, {}


def handler_for(shelf: Shelf) -> type[AnyMethod]:
    class Handler(AnyMethod):
        def _handle(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            parts = url.path.strip("/").split("/")
            with shelf.lock:
                if parts == ["books"] and self.command == "GET":
                    status, body, headers = shelf.page(query)
                    self.send_json(status, body, **headers)
                elif parts == ["books"] and self.command == "POST":
                    self.create()
                elif len(parts) == 2 and parts[0] == "books" and self.command in ("GET", "DELETE"):
                    self.item(parts[1])
                elif parts[0] == "books" and len(parts) <= 2:
                    allowed = "GET, POST" if len(parts) == 1 else "GET, DELETE"
                    self.send_json(405, {"detail": "Method Not Allowed"}, Allow=allowed)
                else:
                    self.send_json(404, {"detail": "Not Found"})

        def create(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                body = None
            title = body.get("title") if isinstance(body, dict) else None
            genre = body.get("genre") if isinstance(body, dict) else None
            if not isinstance(title, str) or not 1 <= len(title) <= 200 or genre not in GENRES:
                self.send_json(422, {"detail": [{"loc": ["body"], "msg": "invalid",
                                                 "type": "value_error"}]})  # fmt: skip
                return
            book = {"id": next(shelf.ids), "title": title, "genre": genre}
            shelf.books[book["id"]] = book
            self.send_json(201, book)

        def item(self, raw: str) -> None:
            if not raw.isdigit() or len(raw) > 12:
                self.send_json(422, {"detail": [{"loc": ["path", "book_id"], "msg": "int",
                                                 "type": "int_parsing"}]})  # fmt: skip
                return
            book = shelf.books.get(int(raw))
            if book is None:
                self.send_json(404, {"detail": "Not Found"})
            elif self.command == "GET":
                self.send_json(200, book)
            else:
                shelf.deleted.append(shelf.books.pop(book["id"]))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


@pytest.fixture
def shelf_spec(tmp_path: Path) -> Path:
    return written(tmp_path, "shelf", SHELF)


def collections_run(
    spec: Path, broken: str | None, reports: Path, *extra: str, shelf: Shelf | None = None
) -> tuple[int, dict[str, Any], Shelf]:
    """The collections scenario of ``spec`` against a Shelf (``shelf``, else one that breaks
    ``broken``) with ``extra`` arguments: the exit code, verdict.json and the app's data."""
    shelf = shelf or Shelf(broken)
    with serving(handler_for(shelf)) as url:
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["run", "--spec", str(spec), "--target", url, *extra, "--reports", str(reports),
             "-m", "scenario(name='collections')", "-p", "no:cacheprovider", "--no-html-report"],
            out, err,
        )  # fmt: skip
    document = json.loads((reports / "verdict.json").read_text())
    return code, document, shelf


def test_paging_and_filters_are_read_from_a_plain_specs_parameters(shelf_spec: Path) -> None:
    spec = load_spec(shelf_spec)
    listing = next(op for op in spec.operations if op.operation_id == "list_books")
    found = paging(listing)
    assert found is not None
    assert (found.style, found.size and found.size.name, found.position.name) == (
        "offset", "limit", "offset",
    )  # fmt: skip
    assert found.query(3, 2) == {"limit": 2, "offset": 4}
    item = spec.properties(spec.component("Book"))
    assert [(f.parameter.name, f.meaning) for f in filters(spec, listing, item)] == [
        ("genre", "enum")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "rule"),
    [("cursor", None), ("cursor-link", None), ("cursor-overlap", "pages-partition")],
)
def test_a_cursor_paged_list_is_walked_where_each_page_says_the_next_is(
    tmp_path: Path, broken: str, rule: str | None
) -> None:
    spec = written(tmp_path, "shelf", cursor_paged(SHELF))
    listing = next(op for op in load_spec(spec).operations if op.operation_id == "list_books")
    assert (paging(listing) or pytest.fail("no paging")).style == "cursor"
    code, document, shelf = collections_run(spec, broken, tmp_path / "reports")
    (scenario,) = document["scenarios"]
    assert sorted(shelf.books.values(), key=lambda book: book["id"]) == BYSTANDERS
    walked = [s["title"] for s in scenario["steps"] if "partitions it" in s["title"]]
    assert walked, scenario["steps"]
    if rule is None:
        assert (code, scenario["outcome"]) == (0, "passed"), scenario
    else:
        assert (code, scenario["outcome"]) == (1, "failed"), scenario
        assert {failure["rule"] for failure in scenario["failures"]} == {rule}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "rule"),
    [(None, None), ("ghost", "deleted-unlisted"), ("overlapping-page", "pages-partition"),
     ("filter-ignored", "filter-holds"), ("unfiltered-total", "filter-holds")],
    ids=["keeps-its-promises", "ghost", "overlapping-page", "filter-ignored", "unfiltered-total"],
)  # fmt: skip
def test_a_plain_apps_lists_are_held_to_their_promises_by_rule(
    shelf_spec: Path, tmp_path: Path, broken: str | None, rule: str | None
) -> None:
    code, document, shelf = collections_run(shelf_spec, broken, tmp_path / "reports")
    (scenario,) = document["scenarios"]
    assert scenario["name"] == "collections"
    # the bystanders' books as they were, and none of the run's own left
    assert sorted(shelf.books.values(), key=lambda book: book["id"]) == BYSTANDERS
    if rule is None:
        assert code == 0, scenario
        assert scenario["outcome"] == "passed", scenario
        judged = [step["title"] for step in scenario["steps"] if step["outcome"] == "passed"]
        assert any("partitions it" in title for title in judged), judged
        assert any("genre=" in title for title in judged), judged
        assert any("no page lists it" in title for title in judged), judged
        return
    assert code == 1, scenario
    assert scenario["outcome"] == "failed"
    assert {failure["rule"] for failure in scenario["failures"]} == {rule}, scenario["failures"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "rule"), [("bare", None), ("bare-overlapping-page", "pages-partition")]
)
def test_a_small_list_with_no_search_and_no_total_is_walked_whole(
    tmp_path: Path, broken: str, rule: str | None
) -> None:
    spec = written(tmp_path, "shelf", bare_paged(SHELF))
    code, document, shelf = collections_run(spec, broken, tmp_path / "reports")
    (scenario,) = document["scenarios"]
    assert sorted(shelf.books.values(), key=lambda book: book["id"]) == BYSTANDERS
    walked = [s for s in scenario["steps"] if "the whole list" in s["title"]]
    assert walked, scenario["steps"]
    if rule is None:
        assert "the whole list (10 items), walked 2 a page" in walked[0]["title"]  # 7 + its 3
        assert (code, scenario["outcome"]) == (0, "passed"), scenario
    else:
        assert (code, scenario["outcome"]) == (1, "failed"), scenario
        assert {failure["rule"] for failure in scenario["failures"]} == {rule}


def archive_paged(spec: dict[str, Any]) -> dict[str, Any]:
    """The Shelf's spec as an app whose names say nothing the suite infers: the page number in
    ``pg``, its size in ``n``, the items and their count under ``payload``."""
    changed: dict[str, Any] = json.loads(json.dumps(spec))
    listing = changed["paths"]["/books"]["get"]
    listing["parameters"][0]["name"] = "n"
    listing["parameters"][1] = {
        "name": "pg",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "default": 1},
    }
    changed["components"]["schemas"]["BookPage"] = {
        "type": "object",
        "required": ["payload"],
        "properties": {"payload": {
            "type": "object",
            "required": ["books", "count"],
            "properties": {"books": {"type": "array", "items": ref("Book")},
                           "count": {"type": "integer"}},
        }},
    }  # fmt: skip
    return changed


#: what a user's overlay says of the Archive's paging (``conformance run --overlay``)
ARCHIVE_OVERLAY = {
    "overlay": "1.0.0",
    "info": {"title": "The Archive's paging", "version": "1"},
    "actions": [{
        "target": "$.paths['/books'].get",
        "update": {"x-paging": {"style": "page", "position": "pg", "size": "n",
                                "items": "/payload/books", "total": "/payload/count"}},
    }],
}  # fmt: skip


class Archive(Shelf):
    """The Shelf with the Archive's names: ``pg`` from 1 and ``n``, ``payload.books`` and
    ``payload.count``."""

    def page(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        size = query.get("n", "10")
        number = query.get("pg", "1")
        if not (size.isdigit() and number.isdigit()) or int(number) < 1:
            return 422, {"detail": [{"loc": ["query"], "msg": "invalid", "type": "int"}]}, {}
        offset = str((int(number) - 1) * int(size))
        status, body, headers = super().page({**query, "limit": size, "offset": offset})
        if status != 200:
            return status, body, headers
        return status, {"payload": {"books": body["items"], "count": body["total"]}}, headers


@pytest.mark.slow
def test_paging_no_name_reveals_is_declared_with_an_overlay_and_then_walked(
    tmp_path: Path,
) -> None:
    spec = written(tmp_path, "archive", archive_paged(SHELF))
    listing = next(op for op in load_spec(spec).operations if op.operation_id == "list_books")
    assert paging(listing) is None  # nothing in its names says how it pages
    overlay = tmp_path / "paging.overlay.json"
    overlay.write_text(json.dumps(ARCHIVE_OVERLAY), encoding="utf-8")
    found: dict[str, dict[str, Any]] = {}
    for name, extra in (("without", ()), ("with", ("--overlay", str(overlay)))):
        code, document, archive = collections_run(
            spec, None, tmp_path / name, *extra, shelf=Archive(None)
        )
        assert code == (0 if name == "with" else 3), document  # 3: nothing was tested
        (found[name],) = document["scenarios"]
        assert sorted(archive.books.values(), key=lambda book: book["id"]) == BYSTANDERS
    # without the declaration: nothing is judged on a guess, and the skip says what to declare
    assert found["without"]["outcome"] == "skipped", found["without"]
    assert "declare where with x-paging items" in found["without"]["reason"]
    # with it: the pages are walked and partition the list, the made one is listed once
    judged = [s["title"] for s in found["with"]["steps"] if s["outcome"] == "passed"]
    assert any("walked 2 a page, partitions it" in title for title in judged), judged
    assert any("one made is listed once" in title for title in judged), judged


def test_an_x_paging_naming_no_parameter_of_its_operation_is_a_declaration_problem(
    tmp_path: Path,
) -> None:
    document = archive_paged(SHELF)
    listing = document["paths"]["/books"]["get"]
    listing["x-paging"] = {"style": "page", "position": "page", "size": "n", "items": "payload"}
    problems = load_spec(written(tmp_path, "archive", document)).declaration_problems
    said = sorted((problem.pointer, problem.message) for problem in problems)
    assert said == [
        ("/paths/~1books/get/x-paging/items", "x-paging: 'payload' does not match '^(/[^/]*)+$'"),
    ]  # the shape first: a malformed declaration is not read further
    listing["x-paging"]["items"] = "/payload/books"
    problems = load_spec(written(tmp_path, "archive", document)).declaration_problems
    assert [(p.pointer, p.message) for p in problems] == [
        ("/paths/~1books/get/x-paging/position",
         "x-paging position 'page' is not a query parameter of the operation"),
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("planted", [False, True], ids=["clean", "planted"])
def test_the_zoos_inventory_that_still_serves_a_deleted_item_fails_deleted_unlisted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: bool
) -> None:
    """The zoo's FastAPI-style inventory (`tests.zoo`: ``/items/``, ``q``, ``limit``/``skip``):
    its planted use-after-delete is this scenario's ``deleted-unlisted``; clean, it passes."""
    api = ZOO["inventory"]
    for name, value in api.environment.items():
        monkeypatch.setenv(name, value)
    spec = written(tmp_path, api.name, api.spec)
    with running(api, planted=planted) as served:
        before = served.app.snapshot()
        code = run(
            ["run", "--spec", str(spec), "--target", served.url, "--reports", str(tmp_path / "r"),
             "-m", "scenario(name='collections')", "-p", "no:cacheprovider", "--no-html-report"],
            io.StringIO(), io.StringIO(),
        )  # fmt: skip
        assert changed(before, served.app.snapshot()) == {}
    (scenario,) = json.loads((tmp_path / "r" / "verdict.json").read_text())["scenarios"]
    if not planted:
        assert (code, scenario["outcome"]) == (0, "passed"), scenario
        return
    assert (code, scenario["outcome"]) == (1, "failed"), scenario
    assert {failure["rule"] for failure in scenario["failures"]} == {"deleted-unlisted"}
