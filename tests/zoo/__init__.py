"""The zoo: third-party style APIs written in the tests, each a small app on `tests.servers` with
a plain spec of its own (no ``x-`` declarations), seeded data that exists before any run, and a
``planted`` mode with bugs of the kinds real APIs have (see each module). The suite's tests
(`tests/suite/test_zoo.py`) and the bench (`bench/zoo_vs_st.py`) run against them: each clean
app passes with no failure, each planted bug is found, and a run leaves the data as it was.

``running(ZOO["blog"], planted=True)`` serves one on a free loopback port; `Served.app.snapshot()`
reads its data in Python (no endpoint of the spec does)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from tests.servers import serving
from tests.zoo import blog, inventory, tracker, vault
from tests.zoo._base import ZooApp

__all__ = ["ZOO", "Bug", "Served", "ZooApi", "changed", "made", "running"]


@dataclass(frozen=True)
class Bug:
    """A planted bug: its name (what the app records when it acts, `ZooApp.hits`) and the
    operation and check a run must fail for it."""

    name: str
    operation_id: str
    check: str


@dataclass(frozen=True)
class ZooApi:
    """One app of the zoo: its name (the API's, as a run names it after the spec's file), its
    spec, its app, what a run is given to be let in (environment variables: the credential and
    how it is presented), the headers a plain client sends for the same, its planted bugs that
    fuzzing finds, and the conformance.toml a run reads (how it logs in: names, no secret)."""

    name: str
    spec: dict[str, Any]
    app: type[ZooApp]
    environment: dict[str, str]
    headers: dict[str, str]
    bugs: tuple[Bug, ...]
    config: str = ""

    @property
    def token(self) -> str:
        """The secret a run is given (its token, else its password): never in what it prints."""
        prefix = f"CONFORMANCE_{self.name.upper()}"
        return self.environment.get(f"{prefix}_TOKEN") or self.environment[f"{prefix}_PASSWORD"]


ZOO: dict[str, ZooApi] = {
    api.name: api
    for api in (
        ZooApi(
            "blog",
            blog.SPEC,
            blog.Blog,
            {"CONFORMANCE_BLOG_TOKEN": blog.TOKEN, "CONFORMANCE_BLOG_TOKEN_PREFIX": "Token"},
            {"Authorization": f"Token {blog.TOKEN}"},
            (
                Bug("slug-collision", "UpdateArticle", "not_a_server_error"),
                Bug("int32-comment-id", "GetArticleComment", "not_a_server_error"),
                Bug("update-unvalidated", "UpdateArticle", "negative_data_rejection"),
            ),
        ),
        ZooApi(
            "inventory",
            inventory.SPEC,
            inventory.Inventory,
            {"CONFORMANCE_INVENTORY_TOKEN": inventory.TOKEN},
            {"Authorization": f"Bearer {inventory.TOKEN}"},
            (
                Bug("nul-in-q", "list_items_items_get", "not_a_server_error"),
                Bug("limit-overflow", "list_items_items_get", "not_a_server_error"),
                Bug("use-after-delete", "read_item_items__item_id__get", "use_after_free"),
            ),
        ),
        ZooApi(
            "tracker",
            tracker.SPEC,
            tracker.Tracker,
            {"CONFORMANCE_TRACKER_TOKEN": tracker.TOKEN},
            {"X-API-Key": tracker.TOKEN},
            (
                Bug("key-collision", "updateProject", "not_a_server_error"),
                Bug("nul-in-body", "createProject", "not_a_server_error"),
            ),
        ),
        ZooApi(
            "vault",
            vault.SPEC,
            vault.Vault,
            {
                # the run as the admin a staging database gives CI: it can remove the accounts
                # its fuzzing registers (a plain account cannot delete another)
                "CONFORMANCE_VAULT_USERNAME": vault.ROOT,
                "CONFORMANCE_VAULT_PASSWORD": vault.ROOT_PASSWORD,
                "CONFORMANCE_VAULT_BOB_USERNAME": vault.BOB,
                "CONFORMANCE_VAULT_BOB_PASSWORD": vault.BOB_PASSWORD,
            },
            {"Authorization": f"Bearer {vault.TOKEN}"},  # the clean app's (its key is random)
            (),  # its flaws are the probes' (`vault.FLAWS`), not fuzzing's
            '[targets.vault.login]\noperation = "loginUser"\ntoken_pointer = "/token"\n',
        ),
    )
}


@dataclass(frozen=True)
class Served:
    """A zoo app being served: its base URL and its class (data, snapshot, hits)."""

    url: str
    app: type[ZooApp]


@contextlib.contextmanager
def running(api: ZooApi, *, planted: bool | Collection[str]) -> Iterator[Served]:
    """``api``'s app, seeded afresh (its bugs on when ``planted``, or only those it names), on a
    free loopback port while the block runs."""
    app = api.app.fresh(planted)
    with serving(app) as url:
        yield Served(url, app)


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What of ``before`` (a snapshot) ``after`` no longer holds as it was: each changed or
    missing record, by collection and key, with its value after (None: gone)."""
    return {
        f"{collection}/{key}": after.get(collection, {}).get(key)
        for collection, records in before.items()
        for key, record in records.items()
        if after.get(collection, {}).get(key) != record
    }


def made(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The records ``after`` (a snapshot) holds that ``before`` did not: what a run left."""
    return {
        f"{collection}/{key}": record
        for collection, records in after.items()
        for key, record in records.items()
        if key not in before.get(collection, {})
    }
