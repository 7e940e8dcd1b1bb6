"""SQLite storage for the reference backend: every resource as the JSON it is served as.

One table holds every resource (``api``, ``kind``, ``id``, the JSON, its ``version`` and the
principal it is private to, if any); ``unique_keys`` turns each ``x-unique`` rule into a primary
key, so that a duplicate fails inside the transaction that would create it, however many
requests race.

Each thread has its own connection (the app runs handlers in a thread pool, so concurrent
requests really race); WAL mode lets reads go on beside a write. A change runs in one
``BEGIN IMMEDIATE`` transaction: an error anywhere in it rolls all of it back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    api TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    owner TEXT,
    PRIMARY KEY (api, kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unique_keys (
    api TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (api, kind, name, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS unique_keys_by_id ON unique_keys (api, kind, id);
"""


class DatabaseError(ConformanceError):
    """The database file cannot be opened or is not ours."""


class UniqueViolation(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Row:
    """A stored resource: its JSON text, parsed on first use of ``data``."""

    __slots__ = ("_data", "id", "owner", "text", "version")

    def __init__(self, id: str, text: str, version: int, owner: str | None) -> None:
        self.id = id
        self.text = text
        self.version = version
        self.owner = owner
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self.text)
        return self._data


class RawItems:
    """A list of stored JSON texts that an answer splices in as they are (a page's ``data``):
    parsing twenty documents only to serialise them again was a quarter of a list's cost."""

    __slots__ = ("texts",)

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def parsed(self) -> list[Any]:
        return [json.loads(text) for text in self.texts]


@dataclass(frozen=True, slots=True)
class Filter:
    """``field op value`` on a top-level member of the stored JSON."""

    field: str
    op: str  #: "=", ">=", "<=", "like-any" (value: a list of fields to search)
    value: Any


def _column(field: str) -> str:
    return "json_extract(data, '$.\"" + field.replace('"', "") + "\"')"


class Transaction:
    """The statements a handler runs, inside one transaction on one connection."""

    def __init__(self, connection: sqlite3.Connection, api: str) -> None:
        self._db = connection
        self.api = api

    def get(self, kind: str, id: str) -> Row | None:
        found = self._db.execute(
            "SELECT id, data, version, owner FROM resources WHERE api=? AND kind=? AND id=?",
            (self.api, kind, id),
        ).fetchone()
        return Row(found[0], found[1], found[2], found[3]) if found else None

    def insert(
        self, kind: str, data: dict[str, Any], owner: str | None = None, *, id: str | None = None
    ) -> None:
        """Store a new resource, under ``id`` (default: its ``id`` member)."""
        self._db.execute(
            "INSERT INTO resources (api, kind, id, data, version, owner) VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.api,
                kind,
                id or data["id"],
                json.dumps(data),
                int(data.get("version", 1)),
                owner,
            ),
        )

    def replace(self, kind: str, data: dict[str, Any], *, id: str | None = None) -> None:
        self._db.execute(
            "UPDATE resources SET data=?, version=? WHERE api=? AND kind=? AND id=?",
            (json.dumps(data), int(data.get("version", 1)), self.api, kind, id or data["id"]),
        )

    def set_owner(self, kind: str, id: str, owner: str | None) -> None:
        """Make a resource private to ``owner`` (None: shared)."""
        self._db.execute(
            "UPDATE resources SET owner=? WHERE api=? AND kind=? AND id=?",
            (owner, self.api, kind, id),
        )

    def delete(self, kind: str, id: str) -> None:
        self._db.execute(
            "DELETE FROM resources WHERE api=? AND kind=? AND id=?", (self.api, kind, id)
        )
        self._db.execute(
            "DELETE FROM unique_keys WHERE api=? AND kind=? AND id=?", (self.api, kind, id)
        )

    def claim(self, kind: str, keys: dict[str, str], id: str) -> None:
        """Hold the unique ``keys`` (name -> value) for ``id``, letting go of its old ones."""
        self._db.execute(
            "DELETE FROM unique_keys WHERE api=? AND kind=? AND id=?", (self.api, kind, id)
        )
        for name, value in keys.items():
            try:
                self._db.execute(
                    "INSERT INTO unique_keys (api, kind, name, value, id) VALUES (?, ?, ?, ?, ?)",
                    (self.api, kind, name, value, id),
                )
            except sqlite3.IntegrityError:
                raise UniqueViolation(name) from None

    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        found = self._db.execute(
            "SELECT id FROM unique_keys WHERE api=? AND kind=? AND name=? AND value=?",
            (self.api, kind, name, value),
        ).fetchone()
        return str(found[0]) if found else None

    def _where(
        self, kind: str, filters: Sequence[Filter], visible_to: str | None
    ) -> tuple[str, list[Any]]:
        clauses = ["api=?", "kind=?"]
        args: list[Any] = [self.api, kind]
        if visible_to is not None:
            clauses.append("(owner IS NULL OR owner=?)")
            args.append(visible_to)
        for item in filters:
            if item.op == "like-any":
                needle, fields = item.value
                escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(
                    "(" + " OR ".join(f"{_column(f)} LIKE ? ESCAPE '\\'" for f in fields) + ")"
                )
                args += [f"%{escaped}%"] * len(fields)
            elif item.op == "in":
                clauses.append(f"{_column(item.field)} IN ({', '.join('?' * len(item.value))})")
                args += list(item.value)
            else:
                clauses.append(f"{_column(item.field)} {item.op} ?")
                args.append(item.value)
        return " AND ".join(clauses), args

    def count(
        self, kind: str, filters: Sequence[Filter] = (), visible_to: str | None = None
    ) -> int:
        where, args = self._where(kind, filters, visible_to)
        return int(
            self._db.execute(f"SELECT count(*) FROM resources WHERE {where}", args).fetchone()[0]
        )

    def select(
        self,
        kind: str,
        filters: Sequence[Filter] = (),
        *,
        visible_to: str | None = None,
        sort: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        where, args = self._where(kind, filters, visible_to)
        order = "DESC" if descending else "ASC"
        sql = f"SELECT id, data, version, owner FROM resources WHERE {where}"
        if sort:
            sql += f" ORDER BY {_column(sort)} {order}, id {order}"
        else:
            sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [Row(r[0], r[1], r[2], r[3]) for r in self._db.execute(sql, args)]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that an exception undoes alone (one item of a bulk)."""
        name = f"part_{id(self)}"
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            self._db.execute(f"RELEASE {name}")
            raise
        self._db.execute(f"RELEASE {name}")

    def meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(found[0]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


class Store:
    """The database of a reference backend: a file, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Writers of this process queue here rather than in SQLite, whose busy handler sleeps
        # in growing steps (1, 2, 5 … 100 ms) when a write lock is taken: that was the whole
        # write tail (p99 117 ms at 8 clients). Another process on the file still waits in
        # SQLite's busy timeout.
        self._writer = threading.Lock()
        connection = self._connection()
        try:
            connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{path} is not a database conformance can use ({exc})") from None

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=10
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA foreign_keys=OFF")
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot open the database {self.path}: {exc}") from None
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def read(self, api: str) -> Iterator[Transaction]:
        """A consistent view for reads (one snapshot for a count and its page)."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield Transaction(connection, api)
        finally:
            connection.execute("COMMIT")

    @contextmanager
    def write(self, api: str) -> Iterator[Transaction]:
        """A change: all of it, or (on any exception) none of it."""
        connection = self._connection()
        with self._writer:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(connection, api)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
