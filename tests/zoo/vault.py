"""``vault``: a VAmPI style API (VAmPI is a deliberately vulnerable Flask API), with the flaws the
security probes look for. Users register and log in for an HS256 JWT (``sub``, ``exp``) sent as
``Authorization: Bearer``; notes are private (their owner's alone: 404 to anyone else); books
are public content (anyone reads them, only their owner changes them: 403); ``GET /admin/users``
is the admin's (403 to others). Errors are ``{"detail": …}``; what the schema refuses is 400.
Seeded: the admin ``root``, the run's user ``qa`` and a second account ``bob``, a note each and
60 books (more than a list's documented ``maximum: 50``).

Planted (`FLAWS`, all of them with ``planted=True``, or some by name: ``planted={"alg-none"}``):

- ``weak-jwt-key``: tokens are signed with the key ``secret`` (clean: 32 random bytes);
- ``user-enumeration``: a login with an unknown user answers 404 "no such user" (clean: 401);
- ``no-login-throttle``: no limit on wrong passwords (clean: the 6th wrong one for a username
  within 60 s, and any login for it until then, answers 429 with ``Retry-After``);
- ``mass-assignment``: register and ``PUT /users/me`` take ``admin`` and ``role``, which stick;
- ``password-hash-exposed``: user answers carry ``password_hash`` (``$2b$12$…``);
- ``bola-notes``: ``PUT`` and ``DELETE /notes/{id}`` do not check the owner;
- ``admin-open``: ``GET /admin/users`` answers any logged-in user;
- ``limit-unenforced``: a ``limit`` over 50 is honoured (clean: 400);
- ``sql-injection``: the books' ``q`` and ``GET /users/{username}`` build SQL by hand: an odd
  number of ``'`` answers 500 ``sqlite3.OperationalError: unrecognized token: "'"``, a
  tautology (``' OR '1'='1``) matches every row;
- ``debug-endpoint``: undocumented ``GET /debug`` and ``/debug/vars`` answer the settings, a
  secret among them (clean: 404);
- ``alg-none``: a token with ``alg: none`` or without its signature is taken."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Collection
from typing import Any, ClassVar

from tests.plain_specs import JSON, document, json_answer, ref
from tests.zoo._base import NOT_JSON, Invalid, Refused, Route, ZooApp, integer, validators

ROOT, ROOT_PASSWORD = "root", "root-vault-pass-5d1"
QA, QA_PASSWORD = "qa", "qa-vault-pass-8c3e"
BOB, BOB_PASSWORD = "bob", "bob-vault-pass-2f7a"
#: the planted weak key, and the clean app's key (random, one per test process)
WEAK_KEY, KEY = b"secret", secrets.token_bytes(32)
LIFETIME = 3600
#: the most wrong passwords for one username within `WINDOW` seconds (clean app)
ATTEMPTS, WINDOW = 5, 60.0
LIMIT_MAX = 50
SQL_ERROR = 'sqlite3.OperationalError: unrecognized token: "\'"'
DEBUG_PATHS = ("/debug", "/debug/vars")
FLAWS = frozenset(
    {
        "weak-jwt-key",
        "user-enumeration",
        "no-login-throttle",
        "mass-assignment",
        "password-hash-exposed",
        "bola-notes",
        "admin-open",
        "limit-unenforced",
        "sql-injection",
        "debug-endpoint",
        "alg-none",
    }
)

_ERROR = json_answer(ref("Error"), "Error")
_WHY = {
    "400": "Invalid input",
    "401": "Not authenticated",
    "403": "Forbidden",
    "404": "Not found",
    "409": "Conflict",
    "429": "Too many attempts",
}


def _operation(
    operation_id: str,
    tag: str,
    answers: dict[str, Any],
    errors: tuple[str, ...] = (),
    *,
    public: bool = False,
    **more: Any,
) -> dict[str, Any]:
    errors = (*errors, "400") if public else (*errors, "400", "401")
    documented = {status: {**_ERROR, "description": _WHY[status]} for status in errors}
    found = {"operationId": operation_id, "tags": [tag], "responses": {**answers, **documented}}
    return {**found, **({"security": []} if public else {}), **more}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _text(low: int, high: int) -> dict[str, Any]:
    return {"type": "string", "minLength": low, "maxLength": high}


_ID = {"type": "integer", "minimum": 1}
_LIST = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": 20}),
    _query("offset", {"type": "integer", "minimum": 0, "default": 0}),
    _query("q", {"type": "string", "maxLength": 100}),
]
_USERNAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{2,32}$"}


def _many(schema: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(schema)}


SPEC = document(
    "Vault API",
    {
        "/users/register": {
            "post": _operation(
                "registerUser", "users", {"201": json_answer(ref("Me"), "Registered")},
                ("409",), public=True, requestBody=_body("Registration"),
            )
        },
        "/users/login": {
            "post": _operation(
                "loginUser", "users", {"200": json_answer(ref("Token"), "Logged in")},
                ("401", "429"), public=True, requestBody=_body("Login"),
            )
        },
        "/users/me": {
            "get": _operation("getMe", "users", {"200": json_answer(ref("Me"), "You")}),
            "put": _operation(
                "updateMe", "users", {"200": json_answer(ref("Me"), "You")},
                requestBody=_body("MeUpdate"),
            ),
        },
        "/users/{username}": {
            "parameters": [_path("username", _USERNAME)],
            "get": _operation(
                "getUser", "users", {"200": json_answer(ref("Profile"), "A user")}, ("404",),
                public=True,
            ),
            "delete": _operation(
                "deleteUser", "users", {"204": {"description": "Deleted"}}, ("403", "404"),
                summary="Delete an account (your own, or any as an administrator)",
            ),
        },
        "/notes": {
            "get": _operation(
                "listNotes", "notes", {"200": json_answer(_many("Note"), "Your notes")},
                parameters=_LIST,
            ),
            "post": _operation(
                "createNote", "notes", {"201": json_answer(ref("Note"), "Created")},
                requestBody=_body("NoteNew"),
            ),
        },
        "/notes/{id}": {
            "parameters": [_path("id", _ID)],
            "get": _operation("getNote", "notes", {"200": json_answer(ref("Note"), "A note")},
                              ("404",)),
            "put": _operation(
                "updateNote", "notes", {"200": json_answer(ref("Note"), "Changed")}, ("404",),
                requestBody=_body("NoteNew"),
            ),
            "delete": _operation("deleteNote", "notes", {"204": {"description": "Deleted"}},
                                 ("404",)),
        },
        "/books": {
            "get": _operation(
                "listBooks", "books", {"200": json_answer(_many("Book"), "Books")}, public=True,
                parameters=_LIST,
            ),
            "post": _operation(
                "createBook", "books", {"201": json_answer(ref("Book"), "Created")},
                requestBody=_body("BookNew"),
            ),
        },
        "/books/{id}": {
            "parameters": [_path("id", _ID)],
            "get": _operation("getBook", "books", {"200": json_answer(ref("Book"), "A book")},
                              ("404",), public=True),
            "put": _operation(
                "updateBook", "books", {"200": json_answer(ref("Book"), "Changed")},
                ("403", "404"), requestBody=_body("BookNew"),
            ),
            "delete": _operation("deleteBook", "books", {"204": {"description": "Deleted"}},
                                 ("403", "404")),
        },
        "/admin/users": {
            "get": _operation(
                "listAllUsers", "admin", {"200": json_answer(_many("Me"), "Every user")},
                ("403",), summary="List every user (administrators only)",
            )
        },
    },
    {
        "schemas": {
            "Registration": _object(
                ["username", "email", "password"],
                username=_USERNAME, email=_text(3, 120), password=_text(8, 128),
            ),
            "Login": _object(["username", "password"], username=_text(1, 64),
                             password=_text(1, 128)),
            "Token": _object(["token"], token={"type": "string"}),
            "Me": _object(
                ["id", "username", "email", "admin"],
                id=_ID, username={"type": "string"}, email={"type": "string"},
                admin={"type": "boolean", "readOnly": True},
            ),
            "MeUpdate": _object(["email"], email=_text(3, 120)),
            "Profile": _object(["id", "username"], id=_ID, username={"type": "string"}),
            "NoteNew": _object(["title", "body"], title=_text(1, 200), body=_text(0, 2000)),
            "Note": _object(
                ["id", "title", "body"], id=_ID, title={"type": "string"},
                body={"type": "string"},
            ),
            "BookNew": _object(["title", "author"], title=_text(1, 200), author=_text(1, 100)),
            "Book": _object(
                ["id", "title", "author", "owner"], id=_ID, title={"type": "string"},
                author={"type": "string"}, owner={"type": "string"},
            ),
            "Error": _object(["detail"], detail={"type": "string"}),
        },
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
    },
)  # fmt: skip
SPEC["security"] = [{"bearerAuth": []}]


# -- tokens and passwords -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')


def mint(subject: str, key: bytes = KEY, lifetime: int = LIFETIME) -> str:
    """An HS256 JWT for ``subject`` signed with ``key``."""
    claims = {"sub": subject, "iat": int(time.time()), "exp": int(time.time()) + lifetime}
    signed = f"{_HEADER}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


def hashed(password: str, salt: str) -> str:
    """A bcrypt-looking hash (a salted SHA-256 in bcrypt's shape: the planted leak's value)."""
    digest = _b64(hashlib.sha256(f"{salt}:{password}".encode()).digest())
    return f"$2b$12${salt}{digest}"[:60]


#: the clean app's token for the run's user: what a plain client sends (`ZooApi.headers`)
TOKEN = mint(QA)


def _user(number: int, name: str, password: str, admin: bool = False) -> dict[str, Any]:
    salt = hashlib.sha256(name.encode()).hexdigest()[:22]
    return {
        "id": number, "username": name, "email": f"{name}@vault.example", "admin": admin,
        "salt": salt, "password_hash": hashed(password, salt),
    }  # fmt: skip


class Vault(ZooApp):
    ROUTES = (
        Route("/users/register", POST="register"),
        Route("/users/login", POST="login"),
        Route("/users/me", GET="get_me", PUT="update_me"),
        Route("/users/{username}", GET="get_user", DELETE="delete_user"),
        Route("/notes", GET="list_notes", POST="create_note"),
        Route("/notes/{id}", GET="get_note", PUT="update_note", DELETE="delete_note"),
        Route("/books", GET="list_books", POST="create_book"),
        Route("/books/{id}", GET="get_book", PUT="update_book", DELETE="delete_book"),
        Route("/admin/users", GET="list_users"),
    )
    VALIDATORS = validators(SPEC)
    FLAWS = FLAWS
    #: the key tokens are signed with
    key: ClassVar[bytes] = KEY
    #: wrong passwords by username: when each was tried (the clean app's throttle)
    failures: ClassVar[dict[str, list[float]]]
    #: every request as sent: method, path with query, body (a test reads what a run wrote)
    requests: ClassVar[list[tuple[str, str, str]]]
    user: dict[str, Any] | None = None

    @classmethod
    def fresh(cls, planted: bool | Collection[str] = False) -> type[ZooApp]:
        app = super().fresh(planted)
        app.key = WEAK_KEY if "weak-jwt-key" in app.flaws else KEY  # type: ignore[attr-defined]
        app.failures = {}  # type: ignore[attr-defined]
        app.requests = []  # type: ignore[attr-defined]
        return app

    @classmethod
    def seeded(cls) -> dict[str, Any]:
        users = [_user(1, ROOT, ROOT_PASSWORD, True), _user(2, QA, QA_PASSWORD),
                 _user(3, BOB, BOB_PASSWORD)]  # fmt: skip
        notes = {
            1: {"id": 1, "title": "Root's plans", "body": "rotate the keys", "owner": ROOT},
            2: {"id": 2, "title": "QA's list", "body": "milk, eggs", "owner": QA},
            3: {"id": 3, "title": "Bob's secret", "body": "the PIN is 1234", "owner": BOB},
        }
        books = {
            n: {"id": n, "title": f"Volume {n}", "author": f"Author {n % 7}",
                "owner": (ROOT, BOB)[n % 2]}
            for n in range(1, 61)
        }  # fmt: skip
        return {
            "users": {user["username"]: user for user in users},
            "notes": notes,
            "books": books,
            "next_user": 3,
            "next_note": 3,
            "next_book": 60,
        }

    @classmethod
    def token_for(cls, username: str) -> str:
        """A token this app takes for ``username``."""
        return mint(username, cls.key)

    # -- the house: errors, the bearer token, what is public ------------------------------------

    def refuse(self, status: int, message: str, **headers: str) -> None:
        if status == 500:  # the driver's error, as a debug-mode Flask app answers it
            return self.send_error_text(message)
        return self.send_json(status, {"detail": message}, **headers)

    def invalid(self, where: str, message: str) -> None:
        self.refuse(400, f"{where}: {message}")

    def public(self) -> bool:
        path = self.path.partition("?")[0]
        if self.command == "POST":
            return path in ("/users/register", "/users/login")
        if self.command in ("GET", "HEAD"):
            return (
                path == "/books"
                or path.startswith("/books/")
                or (path.startswith("/users/") and path != "/users/me")
            )
        return False

    def authorised(self) -> bool:
        self.user = None
        if self.public():
            return True
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        subject = self.subject(token) if scheme.lower() == "bearer" else None
        self.user = self.data["users"].get(subject) if subject else None
        return self.user is not None

    def subject(self, token: str) -> str | None:
        """The token's ``sub`` when its signature and ``exp`` hold, else None."""
        try:
            head, claims, signature = token.split(".")
            header, payload = json.loads(_unb64(head)), json.loads(_unb64(claims))
        except ValueError:
            return None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            return None
        unsigned = header.get("alg") == "none" or not signature
        if unsigned and not self.flawed("alg-none"):
            return None
        if not unsigned:
            key = WEAK_KEY if self.flawed("weak-jwt-key") else self.key
            mac = hmac.new(key, f"{head}.{claims}".encode(), hashlib.sha256).digest()
            if header.get("alg") != "HS256" or not hmac.compare_digest(_b64(mac), signature):
                return None
        if not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
            return None
        return payload.get("sub") if isinstance(payload.get("sub"), str) else None

    def _handle(self) -> None:
        path = self.path.partition("?")[0]
        if self.command == "GET" and path in DEBUG_PATHS and self.flawed("debug-endpoint"):
            self.served[(self.command, path)] += 1
            return self.send_json(200, self.settings())
        return super()._handle()

    def settings(self) -> dict[str, Any]:
        return {
            "DEBUG": True,
            "SECRET_KEY": self.key.decode("latin-1"),
            "DATABASE_URL": "sqlite:///vault.db",
            "JWT_ALGORITHM": "HS256",
            "users": len(self.data["users"]),
        }

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.requests.append((self.command, self.path, raw.decode("utf-8", "replace")))
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            return json.loads(raw) if media == JSON and raw else NOT_JSON
        except ValueError:
            return NOT_JSON

    def sql(self, query: str, value: str) -> bool | None:
        """The planted hand-built SQL: raises on an odd number of quotes (the answer is the
        driver's error), True when ``value`` makes the WHERE a tautology, None when clean."""
        if "'" not in value or not self.flawed("sql-injection"):
            return None
        if value.count("'") % 2:
            raise Refused(500, SQL_ERROR)
        return " or " in value.lower()

    def send_error_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- users ----------------------------------------------------------------------------------

    def shown(self, user: dict[str, Any]) -> dict[str, Any]:
        found = {k: user[k] for k in ("id", "username", "email", "admin")}
        if "role" in user:
            found["role"] = user["role"]
        if self.flawed("password-hash-exposed"):
            found["password_hash"] = user["password_hash"]
        return found

    def assign(self, user: dict[str, Any], fields: dict[str, Any]) -> None:
        """What a register or an update may set: the email (and, planted, anything privileged)."""
        user["email"] = fields["email"]
        privileged = {k: fields[k] for k in ("admin", "role") if k in fields}
        if privileged and self.flawed("mass-assignment"):
            user["admin"] = fields.get("admin") is True or fields.get("role") == "admin"
            if isinstance(fields.get("role"), str):
                user["role"] = fields["role"]

    def register(self) -> None:
        fields = self.valid_body("Registration")
        if fields["username"] in self.data["users"] or fields["username"] in (
            "me",
            "register",
            "login",
        ):
            raise Refused(409, "username taken")
        user = _user(self.next_id("next_user"), fields["username"], fields["password"])
        self.assign(user, fields)
        self.data["users"][user["username"]] = user
        self.send_json(201, self.shown(user))

    def login(self) -> None:
        fields = self.valid_body("Login")
        name, now = fields["username"], time.monotonic()
        tried = [t for t in self.failures.get(name, []) if now - t < WINDOW]
        if len(tried) >= ATTEMPTS and not self.flawed("no-login-throttle"):
            wait = str(int(WINDOW - (now - tried[0])) + 1)
            return self.refuse(429, "too many attempts", Retry_After=wait)
        user = self.data["users"].get(name)
        if user is None and self.flawed("user-enumeration"):
            return self.refuse(404, "no such user")
        if user is None or hashed(fields["password"], user["salt"]) != user["password_hash"]:
            self.failures[name] = [*tried, now]
            return self.refuse(401, "invalid credentials")
        self.failures.pop(name, None)
        self.send_json(200, {"token": self.token_for(name)})

    def me(self) -> dict[str, Any]:
        assert self.user is not None  # authorised() found it
        return self.user

    def get_me(self) -> None:
        self.send_json(200, self.shown(self.me()))

    def update_me(self) -> None:
        fields = self.valid_body("MeUpdate")
        self.assign(self.me(), fields)
        self.send_json(200, self.shown(self.me()))

    def delete_user(self, name: str) -> None:
        if name not in self.data["users"]:
            raise Refused(404, "no such user")
        if name != self.me()["username"] and not self.me()["admin"]:
            raise Refused(403, "only yourself or an administrator")
        del self.data["users"][name]
        for kind in ("notes", "books"):
            for key in [k for k, v in self.data[kind].items() if v["owner"] == name]:
                del self.data[kind][key]
        self.send_json(204)

    def get_user(self, username: str) -> None:
        users = self.data["users"]
        everyone = self.sql(f"SELECT * FROM users WHERE username = '{username}'", username)
        user = next(iter(users.values())) if everyone else users.get(username)
        if user is None:
            raise Refused(404, "no such user")
        found = {"id": user["id"], "username": user["username"]}
        if self.flawed("password-hash-exposed"):
            found["password_hash"] = user["password_hash"]
        self.send_json(200, found)

    def list_users(self) -> None:
        if not self.me()["admin"] and not self.flawed("admin-open"):
            raise Refused(403, "administrators only")
        self.send_json(200, [self.shown(user) for user in self.data["users"].values()])

    # -- notes and books ------------------------------------------------------------------------

    def page(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit, offset = self.integer("limit", 20), self.integer("offset", 0)
        honoured = limit > LIMIT_MAX and self.flawed("limit-unenforced")
        if not honoured and not 1 <= limit <= LIMIT_MAX:
            raise Invalid("query.limit", f"must be 1 to {LIMIT_MAX}")
        if offset < 0 or limit < 1:
            raise Invalid("query", "offset must be at least 0 and limit at least 1")
        return records[offset : offset + limit]

    def record(self, kind: str, raw: str) -> dict[str, Any]:
        found = self.data[kind].get(integer(raw, "path.id"))
        if found is None:
            raise Refused(404, f"{kind[:-1]} not found")
        return dict(found)

    def search(self) -> str:
        """The ``q`` query (its ``maxLength`` enforced)."""
        q = self.text("q") or ""
        if len(q) > 100:
            raise Invalid("query.q", "at most 100 characters")
        return q

    def list_notes(self) -> None:
        q = self.search().lower()
        mine = [n for n in self.data["notes"].values() if n["owner"] == self.me()["username"]]
        found = [n for n in mine if q in n["title"].lower() or q in n["body"].lower()]
        self.send_json(200, [_note(n) for n in self.page(found)])

    def create_note(self) -> None:
        fields = self.valid_body("NoteNew")
        number = self.next_id("next_note")
        note = {"id": number, "title": fields["title"], "body": fields["body"]}
        self.data["notes"][number] = {**note, "owner": self.me()["username"]}
        self.send_json(201, note)

    def note(self, raw: str, *, writing: bool = False) -> dict[str, Any]:
        note = self.record("notes", raw)
        if note["owner"] != self.me()["username"] and not (writing and self.flawed("bola-notes")):
            raise Refused(404, "note not found")
        return note

    def get_note(self, raw: str) -> None:
        self.send_json(200, _note(self.note(raw)))

    def update_note(self, raw: str) -> None:
        fields = self.valid_body("NoteNew")
        note = {**self.note(raw, writing=True), "title": fields["title"], "body": fields["body"]}
        self.data["notes"][note["id"]] = note
        self.send_json(200, _note(note))

    def delete_note(self, raw: str) -> None:
        del self.data["notes"][self.note(raw, writing=True)["id"]]
        self.send_json(204)

    def list_books(self) -> None:
        q = self.search()
        books = list(self.data["books"].values())
        everyone = self.sql(f"SELECT * FROM books WHERE title LIKE '%{q}%'", q)
        found = books if everyone else [b for b in books if q.lower() in b["title"].lower()]
        self.send_json(200, self.page(found))

    def create_book(self) -> None:
        fields = self.valid_body("BookNew")
        number = self.next_id("next_book")
        book = {"id": number, "title": fields["title"], "author": fields["author"]}
        self.data["books"][number] = book = {**book, "owner": self.me()["username"]}
        self.send_json(201, book)

    def book(self, raw: str) -> dict[str, Any]:
        book = self.record("books", raw)
        if book["owner"] != self.me()["username"]:
            raise Refused(403, "not the owner of this book")
        return book

    def get_book(self, raw: str) -> None:
        self.send_json(200, self.record("books", raw))

    def update_book(self, raw: str) -> None:
        fields = self.valid_body("BookNew")
        book = {**self.book(raw), "title": fields["title"], "author": fields["author"]}
        self.data["books"][book["id"]] = book
        self.send_json(200, book)

    def delete_book(self, raw: str) -> None:
        del self.data["books"][self.book(raw)["id"]]
        self.send_json(204)


def _note(note: dict[str, Any]) -> dict[str, Any]:
    return {k: note[k] for k in ("id", "title", "body")}
