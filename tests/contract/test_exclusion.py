"""Which operations a run leaves out: the danger words (on operations as published APIs write
them, both ways, and on the bundled specs, where nothing is flagged), the selectors of
``exclude`` and ``include``, and ``x-exclude``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import (
    BUNDLED_APIS,
    ExcludedBy,
    Selector,
    Spec,
    bundled_spec,
    check_selectors,
    danger,
    dangerous_operations,
    exclusions,
    load_spec,
    read_spec,
)
from conformance.contract._document import parse_document
from conformance.errors import ConfigError, ExitCode
from tests.plain_specs import document

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"


def spec_of(*operations: tuple[str, str, dict[str, Any]]) -> Spec:
    """A plain spec of ``(method, path, operation)``s, each answering 200."""
    paths: dict[str, Any] = {}
    for method, path, operation in operations:
        paths.setdefault(path, {})[method] = {
            "responses": {"200": {"description": "OK"}},
            **operation,
        }
    text = json.dumps(document("Shop", paths))
    return read_spec(parse_document(Path("shop.json"), text))


def flagged(method: str, path: str, **operation: Any) -> str | None:
    spec = spec_of((method, path, operation))
    return danger(spec.operations[0], spec)


DANGEROUS = [
    ("get", "/createdb", {}, "its path says it creates the database"),
    ("post", "/reset", {}, "its path says it resets"),
    ("post", "/admin/reset", {"operationId": "adminReset"}, "its path says it resets"),
    ("post", "/seed", {}, "its path says it seeds"),
    ("post", "/api/seed-data", {}, "its path says it seeds"),
    ("post", "/flush", {}, "its path says it flushes"),
    ("post", "/cache/purge", {}, "its path says it purges"),
    ("post", "/wipe", {}, "its path says it wipes"),
    ("post", "/tables/truncate", {}, "its path says it truncates"),
    ("post", "/drop-tables", {}, "its path says it drops"),
    ("get", "/dropdb", {}, "its path says it drops"),
    ("post", "/testing", {"operationId": "resetDb"}, "its operationId resetDb says it resets"),
    ("delete", "/things", {"operationId": "deleteAll"}, "says it deletes everything"),
    ("post", "/maintenance", {"operationId": "createDB"}, "says it creates the database"),
    ("post", "/maintenance", {"operationId": "init_database"}, "initialises the database"),
    ("post", "/maintenance", {"summary": "Reset the database"}, 'summary says "Reset the'),
    ("post", "/maintenance", {"summary": "Wipes all data"}, 'its summary says "Wipes all data"'),
    ("post", "/tasks/run", {"description": "Drops all tables and seeds them again."}, "Drops all"),
    ("delete", "/users", {"summary": "Delete all users"}, 'says "Delete all users"'),
    ("post", "/fixtures", {"summary": "Populate the database with demo data"}, "Populate"),
]


@pytest.mark.parametrize(
    ("method", "path", "operation", "why"),
    DANGEROUS,
    ids=[f"{m.upper()} {p} {o}" for m, p, o, _ in DANGEROUS],
)
def test_danger_flags_what_resets_seeds_or_wipes_the_data(
    method: str, path: str, operation: dict[str, Any], why: str
) -> None:
    said = flagged(method, path, **operation)
    assert said is not None
    assert why in said, said


ORDINARY = [
    ("post", "/password/reset", {"operationId": "resetPassword"}),
    ("post", "/auth/password-reset", {}),
    ("post", "/users/{id}/reset-password", {"operationId": "resetUserPassword"}),
    ("post", "/auth/reset", {"summary": "Reset a forgotten password with the emailed token"}),
    ("post", "/api-keys/reset", {}),
    ("post", "/tokens/reset", {}),
    ("post", "/devices/{id}/reset", {"summary": "Factory reset one device"}),
    ("delete", "/items/{id}", {"summary": "Delete an item from the database"}),
    ("delete", "/articles/{slug}/comments", {"summary": "Delete all comments of an article"}),
    ("post", "/sessions", {"operationId": "createSession", "summary": "Log in"}),
    ("delete", "/sessions/current", {"summary": "Log out"}),
    ("get", "/seeds", {"operationId": "listSeeds", "summary": "List the seeds in stock"}),
    ("post", "/seeds", {"operationId": "createSeed"}),
    ("get", "/drops", {"operationId": "getDrops"}),
    ("post", "/orders/{id}/drop-off", {}),
    ("post", "/databases", {"operationId": "createDatabase", "summary": "Create a database"}),
    ("get", "/dropdown-options", {}),
    ("post", "/search", {"summary": "Search every record"}),
    ("delete", "/cart/items", {"summary": "Remove all items from the cart"}),
    ("post", "/notes", {"description": "Deleted notes are removed from the database nightly."}),
    ("get", "/status", {"summary": "Whether the database is up"}),
    ("post", "/wallets", {"summary": "Create a wallet from a seed phrase"}),
]


@pytest.mark.parametrize(
    ("method", "path", "operation"), ORDINARY, ids=[f"{m.upper()} {p}" for m, p, _ in ORDINARY]
)
def test_danger_leaves_ordinary_operations_alone(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    assert flagged(method, path, **operation) is None


def test_danger_flags_a_delete_on_a_collection_without_an_id() -> None:
    spec = spec_of(("delete", "/items", {}), ("delete", "/items/{id}", {}), ("delete", "/me", {}))
    found = {operation.label: why for operation, why in dangerous_operations(spec)}
    assert found == {
        "DELETE /items": "a DELETE on the collection /items without an id: it deletes every item"
    }


@pytest.mark.parametrize("api", BUNDLED_APIS)
def test_danger_flags_nothing_of_the_bundled_specs(api: str) -> None:
    assert dangerous_operations(load_spec(bundled_spec(api))) == []


@pytest.mark.parametrize("name", ["petstore.yaml", "fastapi_notes.json"])
def test_danger_flags_nothing_of_the_fixture_specs(name: str) -> None:
    assert dangerous_operations(load_spec(FIXTURES / name)) == []


SHOP = (
    ("get", "/createdb", {"operationId": "createDb", "tags": ["admin"]}),
    ("get", "/items", {"operationId": "listItems", "tags": ["items"]}),
    ("post", "/items", {"operationId": "createItem", "tags": ["items"]}),
    ("delete", "/items/{itemId}", {"operationId": "deleteItem", "tags": ["items"]}),
    ("post", "/mail", {"operationId": "sendMail", "x-exclude": "sends real mail"}),
    ("post", "/audit", {"operationId": "audit", "x-exclude": True}),
    ("post", "/kept", {"operationId": "kept", "x-exclude": False}),
)


def left_out(spec: Spec, **settings: Any) -> dict[str, tuple[str, str]]:
    return {left.label: (str(left.by), left.reason) for left in exclusions(spec, **settings)}


def test_exclusions_in_a_shared_run_leave_out_the_dangerous_and_x_exclude() -> None:
    assert left_out(spec_of(*SHOP)) == {
        "GET /createdb": ("danger", "its path says it creates the database"),
        "POST /mail": ("x-exclude", "x-exclude: sends real mail"),
        "POST /audit": ("x-exclude", "the spec says x-exclude: true"),
    }


def test_exclusions_in_a_disposable_run_keep_the_dangerous_but_not_x_exclude() -> None:
    assert set(left_out(spec_of(*SHOP), disposable=True)) == {"POST /mail", "POST /audit"}


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ("deleteItem", {"DELETE /items/{itemId}"}),
        ("POST /items", {"POST /items"}),
        ("post /items/", {"POST /items"}),
        ("DELETE /items/{id}", {"DELETE /items/{itemId}"}),
        ("/items", {"GET /items", "POST /items"}),
        ("tag:items", {"GET /items", "POST /items", "DELETE /items/{itemId}"}),
    ],
)
def test_exclude_selects_by_operation_id_method_and_path_path_or_tag(
    selector: str, selected: set[str]
) -> None:
    found = left_out(spec_of(*SHOP), exclude=[selector], disposable=True)
    chosen = {label for label, (by, _) in found.items() if by == ExcludedBy.SETTING}
    assert chosen == selected
    assert all(found[label][1] == f'exclude "{selector}"' for label in chosen)


def test_include_brings_back_the_dangerous_and_x_exclude_but_exclude_wins() -> None:
    spec = spec_of(*SHOP)
    assert left_out(spec, include=["GET /createdb", "sendMail", "tag:admin"]) == {
        "POST /audit": ("x-exclude", "the spec says x-exclude: true"),
    }
    assert set(left_out(spec, exclude=["createDb"], include=["createDb"])) == {
        "GET /createdb",
        "POST /mail",
        "POST /audit",
    }


@pytest.mark.parametrize(
    ("setting", "selector", "said"),
    [
        ("exclude", "resetDatabase", 'exclude "resetDatabase" matches no operation of shop'),
        ("include", "GET /reset", 'include "GET /reset" matches no operation of shop'),
        ("exclude", "tag:nope", 'exclude "tag:nope" matches no operation of shop'),
        ("exclude", "FETCH /items", 'exclude "FETCH /items": write an operationId'),
        ("exclude", "tag:", 'exclude "tag:": name the tag'),
    ],
)
def test_a_selector_matching_no_operation_is_one_sentence_exit_3(
    setting: str, selector: str, said: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_selectors({"shop": spec_of(*SHOP)}, **{setting: [selector]})
    assert str(raised.value).startswith(said)
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    assert "\n" not in str(raised.value)


def test_a_selector_needs_to_match_in_one_api_of_the_run_only() -> None:
    other = spec_of(("get", "/ping", {"operationId": "ping"}))
    check_selectors({"shop": spec_of(*SHOP), "other": other}, exclude=["ping", "createItem"])


def test_selector_reads_what_a_user_writes() -> None:
    assert Selector.parse(" GET /createdb ") == Selector(
        "GET /createdb", "operation", "get", "/createdb"
    )
    assert Selector.parse("tag:admin").kind == "tag"
    assert Selector.parse("/admin/reset").kind == "path"
    assert Selector.parse("resetDb").kind == "operation_id"


def test_spec_without_leaves_the_operations_out_and_the_document_alone() -> None:
    spec = spec_of(*SHOP)
    gone = [left.operation for left in exclusions(spec)]
    kept = spec.without(gone)
    assert [op.label for op in kept.operations] == [
        "GET /items", "POST /items", "DELETE /items/{itemId}", "POST /kept",
    ]  # fmt: skip
    assert kept.operation("createDb") is None
    assert kept.document is spec.document
