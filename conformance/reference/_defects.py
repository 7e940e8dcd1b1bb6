"""Switchable defects: realistic ways to break the reference backend, one contract rule each.

The suite must prove that it catches broken backends (``conformance selftest``). Each defect here
is a small bug of the kind real backends have, that breaks exactly one rule of CONTRACT.md in one
place and leaves everything else correct. ``conformance serve --defect NAME`` switches one on;
``--list-defects`` prints this table.

A defect is applied by wrapping a part of a built backend (an operation's handler, the app's
answers, the authenticator, the limiter, the tokens, the engine), so the correct code carries no
trace of them: everything a defect does is in this file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import jwt.warnings

from conformance.contract import Operation
from conformance.errors import ConfigError
from conformance.reference._app import ReferenceApp
from conformance.reference._auth import (
    ACCOUNT,
    ANONYMOUS,
    REFRESH,
    Tokens,
    bearer,
    hash_password,
    unauthenticated,
)
from conformance.reference._engine import Engine
from conformance.reference._errors import ApiError, duplicate, internal
from conformance.reference._model import Context, Handler, Kind, Principal, Reply
from conformance.reference._store import Filter, RawItems, Row, Transaction, UniqueViolation
from conformance.reference._validation import ParsedRequest


@dataclass(frozen=True, slots=True)
class Parts:
    """What a defect may wrap: the parts of one built API."""

    api: str
    app: ReferenceApp
    engine: Engine
    tokens: Tokens


@dataclass(frozen=True, slots=True)
class Defect:
    name: str
    #: the CONTRACT.md section and rule it breaks
    rule: str
    description: str
    api: str
    #: the operations (or "every operation") where it acts
    where: str
    apply: Callable[[Parts], None]
    #: the catalogue's ids of the rules that state the clause it breaks (there may be more than
    #: one: a header check and a scenario rule). The self-test counts the defect caught only by
    #: a failure of one of them; it checks them against `conformance.catalogue`, which this
    #: layer may not import.
    rules: tuple[str, ...] = dataclasses.field(kw_only=True)

    def line(self) -> str:
        return f"{self.name:<28} {self.api:<6} {self.description} [{self.rule}; {self.where}]"


# -- the seams -------------------------------------------------------------------------------


@dataclass(slots=True)
class Answer:
    """One answer of the app, and the request it answers (for wrappers of ``app.handle``)."""

    operation: Operation | None
    status: int
    headers: dict[str, str]
    body: bytes
    request_headers: Mapping[str, str]
    query: str
    client: str
    #: the request's method and path (an answer to a path the spec does not have has no
    #: ``operation``)
    method: str = ""
    path: str = ""

    def edit_json(self, change: Callable[[Any], None]) -> None:
        payload = json.loads(self.body)
        change(payload)
        self.body = json.dumps(payload).encode()


def answers(parts: Parts, change: Callable[[Answer], None]) -> None:
    """Let ``change`` edit every answer of the app, after the app made it."""
    app = parts.app
    inner = app.handle

    def handle(
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        oversized: bool,
        client: str,
    ) -> tuple[int, dict[str, str], bytes]:
        status, out, raw = inner(method, path, query_string, headers, body, oversized, client)
        match = app.router.match(method, path)
        operation = match.operation if match else None
        answer = Answer(operation, status, out, raw, headers, query_string, client, method, path)
        change(answer)
        return answer.status, answer.headers, answer.body

    app.handle = handle  # type: ignore[method-assign]


def handler(parts: Parts, operation_id: str, wrap: Callable[[Handler], Handler]) -> None:
    parts.app.handlers[operation_id] = wrap(parts.app.handlers[operation_id])


def answers_of(operation_id: str, change: Callable[[Answer], None]) -> Callable[[Parts], None]:
    """A defect that edits the answers of one operation."""

    def apply(parts: Parts) -> None:
        def edit(answer: Answer) -> None:
            if answer.operation is not None and answer.operation.operation_id == operation_id:
                change(answer)

        answers(parts, edit)

    return apply


#: page(ctx, tx, kind, filters): the engine's PaginatedResponse for a list operation
PageMaker = Callable[[Context, Transaction, Kind, Sequence[Filter]], dict[str, Any]]


def pages(parts: Parts, operation_id: str, wrap: Callable[[PageMaker], PageMaker]) -> None:
    """Let ``wrap`` change how the engine makes the pages of one list operation."""
    engine = parts.engine
    inner = engine.page
    wrapped = wrap(inner)

    def page(
        ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter] = ()
    ) -> dict[str, Any]:
        chosen = wrapped if ctx.operation.operation_id == operation_id else inner
        return chosen(ctx, tx, kind, filters)

    engine.page = page  # type: ignore[method-assign]


def _asked(ctx: Context, **query: Any) -> Context:
    """``ctx`` as if its query had been ``query`` (a None value: the parameter left out)."""
    merged = {**ctx.request.query, **query}
    kept = {name: value for name, value in merged.items() if value is not None}
    return dataclasses.replace(ctx, request=dataclasses.replace(ctx.request, query=kept))


def _counted(page: dict[str, Any], total: int) -> dict[str, Any]:
    """``page`` with ``total`` and the counters that follow from it, consistently."""
    last = math.ceil(total / page["limit"])
    more = page["page"] < last
    next_page = page["page"] + 1 if more else None
    return {**page, "total": total, "totalPages": last, "hasMore": more, "nextPage": next_page}


def _page(payload: Any) -> dict[str, Any]:
    found: dict[str, Any] = payload["data"] if "total" not in payload else payload
    return found


def _data(payload: Any) -> dict[str, Any]:
    found: dict[str, Any] = payload["data"] if "timestamp" in payload else payload
    return found


# -- §1 shapes -------------------------------------------------------------------------------


def _drop_version(answer: Answer) -> None:
    if answer.status == 200:
        answer.edit_json(lambda payload: _data(payload).pop("version", None))


def _total_as_text(answer: Answer) -> None:
    def change(payload: Any) -> None:
        stats = _data(payload)
        stats["total"] = str(stats["total"])

    if answer.status == 200:
        answer.edit_json(change)


def _plain_text(answer: Answer) -> None:
    if answer.status == 200:
        answer.headers["Content-Type"] = "text/plain; charset=utf-8"


# -- §2 status codes -------------------------------------------------------------------------


def _ok_not_accepted(answer: Answer) -> None:
    if answer.status == 202:
        answer.status = 200


def _long_search_fails(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            if len(str(ctx.request.query.get("search") or "")) > 64:
                raise internal()  # the search column is VARCHAR(64) and the driver raises
            return inner(ctx)

        return handle

    handler(parts, "listSchools", wrap)


def _search_concatenated(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            search = str(ctx.request.query.get("search") or "")
            if search.count("'") % 2:  # the search spliced into the SQL text: an open quote
                raise ApiError(500, "INTERNAL", "sqlite3.OperationalError: unrecognized token:"
                               f" \"'{search.partition(chr(39))[2][:20]}%'\"")  # fmt: skip
            return inner(ctx)

        return handle

    handler(parts, "listSchools", wrap)


def _fingerprint(secret: str) -> str:
    """A short hash of a secret: what a debug page of a careless backend shows of it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _debug_vars(parts: Parts) -> None:
    """An undocumented ``GET …/debug/vars`` (expvar, left on) answers the backend's settings."""

    def change(answer: Answer) -> None:
        if answer.method == "GET" and answer.path.rstrip("/").endswith("/debug/vars"):
            settings = {
                "api": parts.api,
                "debug": True,
                "database": "sqlite:///var/lib/conformance/reference.db",
                "jwt_secret_sha256": _fingerprint(str(parts.tokens._secret)),
                "operations": len(parts.app.handlers),
            }
            answer.status, answer.body = 200, json.dumps(settings).encode()
            answer.headers = {"Content-Type": "application/json"}

    answers(parts, change)


TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/gloria/app/handlers/schools.py", line 87, in get_school\n'
    "    row = session.execute(select(School).where(School.id == school_id)).one()\n"
    "sqlalchemy.exc.NoResultFound: No row was found when one was required"
)


def _trace_in_404(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            try:
                return inner(ctx)
            except ApiError as error:
                if error.status == 404:
                    error.message = f"{error.message}\n{TRACE}"
                raise

        return handle

    handler(parts, "getSchool", wrap)


# -- §4 authentication and authorisation -----------------------------------------------------


def _expired_accepted(parts: Parts) -> None:
    tokens = parts.tokens
    inner = tokens._decode

    def decode(token: str, kind: str) -> dict[str, Any]:
        try:
            return inner(token, kind)
        except ApiError as error:
            if error.code != "TOKEN_EXPIRED":
                raise
            claims: dict[str, Any] = jwt.decode(
                token, tokens._secret, algorithms=["HS256"], options={"verify_exp": False}
            )
            return claims

    tokens._decode = decode  # type: ignore[method-assign]


def _alg_none_accepted(parts: Parts) -> None:
    tokens = parts.tokens
    inner = tokens._decode

    def decode(token: str, kind: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            header = {}
        if str(header.get("alg", "")).lower() == "none":
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
            if claims.get("typ") == kind:
                return claims
        return inner(token, kind)

    tokens._decode = decode  # type: ignore[method-assign]


def _not_rotated(parts: Parts) -> None:
    tokens = parts.tokens

    def refresh(token: str) -> Any:
        claims = tokens._decode(token, "refresh")
        with tokens.store.write(tokens.api) as tx:
            family = tx.get("_Family", claims["fam"])
            account = tokens.account(tx, claims["sub"])
            if family is None or family.data["revoked"] or account is None:
                raise unauthenticated("the refresh token has been revoked")
            issued = tokens._issue(tx, account, claims["fam"])
        return dataclasses.replace(issued, refresh_token=token)  # the same one, still good

    tokens.refresh = refresh  # type: ignore[method-assign]


def _reuse_undetected(parts: Parts) -> None:
    tokens = parts.tokens
    inner = tokens._rotate

    def rotate(tx: Transaction, claims: Mapping[str, Any]) -> Any:
        record = tx.get(REFRESH, str(claims.get("jti")))
        if record is not None and record.data["used"]:
            return unauthenticated("the refresh token was used before")  # the family lives on
        return inner(tx, claims)

    tokens._rotate = rotate  # type: ignore[method-assign]


def _logout_keeps_tokens(parts: Parts) -> None:
    handler(parts, "logout", lambda inner: lambda ctx: Reply(204))


def _auth_skipped(parts: Parts) -> None:
    app = parts.app
    inner = app.authenticator

    class Lenient:
        def authenticate(self, operation: Operation, headers: Mapping[str, str]) -> Principal:
            if operation.operation_id == "listSchools" and bearer(headers) is None:
                return ANONYMOUS
            return inner.authenticate(operation, headers)

    app.authenticator = Lenient()


def _role_unchecked(parts: Parts) -> None:
    app = parts.app
    inner = app.authenticator

    class Lenient:
        def authenticate(self, operation: Operation, headers: Mapping[str, str]) -> Principal:
            if operation.operation_id == "deleteSchool":
                operation = dataclasses.replace(operation, roles=())
            return inner.authenticate(operation, headers)

    app.authenticator = Lenient()


def _private_leak(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            who = ctx.principal
            return inner(dataclasses.replace(ctx, principal=Principal(who.id, "admin", who.email)))

        return handle

    handler(parts, "getNotification", wrap)


#: what mass-assignment-role carries past validation: the sent ``permissions``, per worker thread
_SMUGGLED = threading.local()


def _permissions_kept(parts: Parts) -> None:
    """createUser keeps the ``permissions`` its body names (a user made with any privilege),
    though it offers none: an ORM's ``User(**body)`` after a schema that ignores what it does
    not know. The member is taken off before validation and written over the derived ones."""
    reader, engine = parts.app.reader, parts.engine
    inner_read = reader.read

    def read(
        operation: Operation,
        path: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        content_type: str | None,
        body: bytes,
    ) -> ParsedRequest:
        _SMUGGLED.value = None
        if operation.operation_id == "createUser" and body:
            with contextlib.suppress(ValueError):
                sent = json.loads(body)
                if isinstance(sent, dict) and "permissions" in sent:
                    _SMUGGLED.value = sent.pop("permissions")
                    body = json.dumps(sent).encode()
        return inner_read(operation, path, query, headers, content_type, body)

    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            reply = inner(ctx)
            smuggled = getattr(_SMUGGLED, "value", None)
            if smuggled is None or not isinstance(reply.payload, dict):
                return reply
            kept = {**reply.payload, "permissions": smuggled}
            with ctx.store.write(engine.api) as tx:
                tx.replace("UserProfile", kept)
            return dataclasses.replace(reply, payload=kept)

        return handle

    reader.read = read  # type: ignore[method-assign,assignment]
    handler(parts, "createUser", wrap)


def _hash_in_user(parts: Parts) -> None:
    """getUser serialises the account row joined to the user: its ``passwordHash`` too."""
    tokens = parts.tokens

    def change(answer: Answer) -> None:
        def add(payload: Any) -> None:
            user = _data(payload)
            with tokens.store.read(tokens.api) as tx:
                account = tokens.account_for_user(tx, str(user.get("id")))
                row = tx.get(ACCOUNT, account.id) if account is not None else None
            user["passwordHash"] = row.data["passwordHash"] if row else hash_password("x" * 12)

        if answer.status == 200:
            answer.edit_json(add)

    answers_of("getUser", change)(parts)


def _owner_unchecked_on_update(parts: Parts) -> None:
    """updateWorkflowInstance runs as if its caller saw every user's instances (an admin's
    view): another staff user's change of an instance goes through."""

    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            who = ctx.principal
            return inner(dataclasses.replace(ctx, principal=Principal(who.id, "admin", who.email)))

        return handle

    handler(parts, "updateWorkflowInstance", wrap)


def _admin_open(parts: Parts) -> None:
    """listAuditLogs (admin, service) lets staff in too."""
    app = parts.app
    inner = app.authenticator

    class Open:
        def authenticate(self, operation: Operation, headers: Mapping[str, str]) -> Principal:
            if operation.operation_id == "listAuditLogs" and operation.roles:
                operation = dataclasses.replace(operation, roles=(*operation.roles, "staff"))
            return inner.authenticate(operation, headers)

    app.authenticator = Open()


def _no_store_missing(answer: Answer) -> None:
    if answer.operation is not None and answer.operation.operation_id in ("login", "refreshToken"):
        answer.headers.pop("Cache-Control", None)


def _no_challenge(answer: Answer) -> None:
    if answer.status == 401:
        answer.headers.pop("WWW-Authenticate", None)


def _weak_jwt_key(parts: Parts) -> None:
    """Tokens are signed with the tutorial's key, ``secret`` (a default never changed)."""
    # PyJWT warns of a key this short on every token: the defect is the short key, not a
    # warning on each request (which a test's warnings-as-errors would turn into a 500)
    warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)
    tokens = parts.tokens
    tokens._secret = "secret"
    tokens._verified.clear()


def _unknown_user_told(parts: Parts) -> None:
    """A login of an email no account has says so (and skips the password hash), where a
    wrong password says the pair does not match."""
    tokens = parts.tokens
    inner = tokens.authenticate

    def authenticate(tx: Transaction, account_id: str | None, password: str) -> Any:
        if account_id is None:
            raise ApiError(401, "UNAUTHENTICATED", "no account has this email")
        return inner(tx, account_id, password)

    tokens.authenticate = authenticate  # type: ignore[method-assign]


def _login_unlimited(parts: Parts) -> None:
    """The login's own limit is off: any number of wrong passwords, at any speed (its answers
    still carry the client's X-RateLimit-* headers, which never run out)."""
    limiter: Any = parts.app.limiter
    inner = limiter.hit

    def hit(operation: Operation, principal: Principal, client: str, body: bytes) -> Any:
        if operation.operation_id == "login":
            return limiter.peek(operation, client)
        return inner(operation, principal, client, body)

    limiter.hit = hit


# -- §3 pagination ---------------------------------------------------------------------------


def _limit_honoured(parts: Parts) -> None:
    """listSchools takes any ``limit``: the bound is checked on a copy of the query, and the
    page is made with what was sent (``limit=1000`` pages a thousand)."""
    reader = parts.app.reader
    inner = reader.read

    def read(
        operation: Operation,
        path: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        content_type: str | None,
        body: bytes,
    ) -> ParsedRequest:
        sent = dict(query).get("limit", "") if operation.operation_id == "listSchools" else ""
        over = sent.isdigit() and int(sent) > 100
        checked = [(k, "100" if k == "limit" and over else v) for k, v in query]
        parsed = inner(operation, path, checked, headers, content_type, body)
        if over:
            parsed.query["limit"] = int(sent)
        return parsed

    reader.read = read  # type: ignore[method-assign,assignment]


def _total_off_by_one(answer: Answer) -> None:
    def change(payload: Any) -> None:
        _page(payload)["total"] += 1  # counts the soft-deleted row too

    if answer.status == 200:
        answer.edit_json(change)


#: where ghost-after-delete moves a deleted position (a kind no operation reads but its list)
ARCHIVE = "_ArchivedPosition"


def _archive_listed(parts: Parts) -> None:
    """A delete moves the position to an archive table, and the list query still reads the
    archive too (a UNION from before the archive held deletes): the ghost is listed after the
    live positions and counted in ``total``; ``GET`` reads the live table and says 404."""
    engine = parts.engine
    remove = engine.remove

    def archive(ctx: Context, tx: Transaction, kind: Kind, row: Row) -> None:
        remove(ctx, tx, kind, row)
        if kind.name == "Position":
            tx.insert(ARCHIVE, row.data, row.owner)

    def with_archive(inner: PageMaker) -> PageMaker:
        def page(
            ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter]
        ) -> dict[str, Any]:
            live = inner(ctx, tx, kind, filters)
            asked = [*filters, *engine._query_filters(kind, ctx.request.query)]
            viewer = ctx.principal.visible_to
            archived = tx.count(ARCHIVE, asked, viewer)
            texts = list(live["data"].texts)
            room = live["limit"] - len(texts)
            if archived and room > 0:  # the archive's rows come after the live ones
                skip = max(0, (live["page"] - 1) * live["limit"] - live["total"])
                rows = tx.select(ARCHIVE, asked, visible_to=viewer, limit=room, offset=skip)
                texts += [row.text for row in rows]
            return _counted({**live, "data": RawItems(texts)}, live["total"] + archived)

        return page

    engine.remove = archive  # type: ignore[method-assign]
    pages(parts, "listPositions", with_archive)


def _one_early(inner: PageMaker) -> PageMaker:
    """Pages after the first start one row early (a 1-based row number used as an offset):
    each repeats the last item of the page before it, and the last item is never listed."""

    def page(
        ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter]
    ) -> dict[str, Any]:
        found = inner(ctx, tx, kind, filters)
        if found["page"] < 2:
            return found
        before = inner(_asked(ctx, page=found["page"] - 1), tx, kind, filters)
        texts = [*before["data"].texts[-1:], *found["data"].texts]
        return {**found, "data": RawItems(texts[: len(found["data"])])}

    return page


def _department_ignored(inner: Handler) -> Handler:
    """The handler reads ``department_id`` while the query says ``departmentId``: every
    department's positions are listed (and counted)."""
    return lambda ctx: inner(_asked(ctx, departmentId=None))


def _total_unfiltered(inner: PageMaker) -> PageMaker:
    """The count query is built before the department filter is added: the items are the
    department's, ``total`` (and the counters after it) counts every department's."""

    def page(
        ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter]
    ) -> dict[str, Any]:
        found = inner(ctx, tx, kind, filters)
        if ctx.request.query.get("departmentId") is None:
            return found
        everyone = inner(_asked(ctx, departmentId=None), tx, kind, filters)
        return _counted(found, everyone["total"])

    return page


def _active_inverted(inner: PageMaker) -> PageMaker:
    """The list reads ``isActive`` from a column whose sense is the other way round (the item's
    own GET reads it right): every listed position says the opposite of its GET."""

    def page(
        ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter]
    ) -> dict[str, Any]:
        found = inner(ctx, tx, kind, filters)
        items = [json.loads(text) for text in found["data"].texts]
        for item in items:
            if isinstance(item.get("isActive"), bool):
                item["isActive"] = not item["isActive"]
        return {**found, "data": RawItems([json.dumps(item) for item in items])}

    return page


def _sorted_per_page(inner: PageMaker) -> PageMaker:
    """The rows of a page are taken in the order they were made and sorted afterwards, page by
    page: each page is in order, the list across pages is not."""

    def page(
        ctx: Context, tx: Transaction, kind: Kind, filters: Sequence[Filter]
    ) -> dict[str, Any]:
        by = ctx.request.query.get("sortBy")
        if by is None:
            return inner(ctx, tx, kind, filters)
        found = inner(_asked(ctx, sortBy="createdAt", sortOrder="asc"), tx, kind, filters)
        texts = sorted(
            found["data"].texts,
            key=lambda text: str(json.loads(text).get(by)),
            reverse=ctx.request.query.get("sortOrder", "desc") == "desc",
        )
        return {**found, "data": RawItems(texts)}

    return page


# -- §5 optimistic concurrency ---------------------------------------------------------------


def _version_ignored(parts: Parts) -> None:
    engine = parts.engine
    inner = engine.check_version

    def check(ctx: Context, current: int) -> None:
        if ctx.operation.operation_id != "updateSchool":
            inner(ctx, current)
            return
        # compares the client's version with itself: a disagreement is still 400, never 409
        header = ctx.request.headers.get("if-match", "").strip().strip('"')
        body = ctx.body if isinstance(ctx.body, Mapping) else {}
        claimed = body.get("version", int(header) if header.isdigit() else None)
        inner(ctx, claimed if isinstance(claimed, int) else current)

    engine.check_version = check  # type: ignore[method-assign]


def _delete_unconditional(parts: Parts) -> None:
    engine = parts.engine
    inner = engine.check_version

    def check(ctx: Context, current: int) -> None:
        if ctx.operation.operation_id != "deletePosition":  # deletes whatever If-Match says
            inner(ctx, current)

    engine.check_version = check  # type: ignore[method-assign]


def _bulk_versions_ignored(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            body = ctx.body if isinstance(ctx.body, Mapping) else {}
            operations = [
                {k: v for k, v in op.items() if k != "version"} if isinstance(op, Mapping) else op
                for op in body.get("operations", [])
            ]  # the items' versions never reach the check
            request = dataclasses.replace(ctx.request, body={**body, "operations": operations})
            return inner(dataclasses.replace(ctx, request=request))

        return handle

    handler(parts, "bulkUpdateContent", wrap)


def _partial_write(parts: Parts) -> None:
    engine = parts.engine
    kind = engine.kinds["Department"]

    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            try:
                return inner(ctx)
            except ApiError as error:
                body = ctx.body if isinstance(ctx.body, Mapping) else {}
                saved = {k: body[k] for k in ("name", "description") if k in body}
                if error.status == 409 and saved:  # saved before the version was checked
                    with ctx.store.write(engine.api) as tx:
                        row = tx.get(kind.name, ctx.request.path["id"])
                        if row is not None:
                            tx.replace(kind.name, {**row.data, **saved})
                raise

        return handle

    handler(parts, "updateDepartment", wrap)


def _title_truncated(inner: Handler) -> Handler:
    """A title column of 40 characters in a lenient database: longer titles are cut, silently,
    and the create answers (and stores) the cut one."""

    def handle(ctx: Context) -> Reply:
        body = ctx.body
        if isinstance(body, Mapping) and isinstance(body.get("title"), str):
            cut = dataclasses.replace(ctx.request, body={**body, "title": body["title"][:40]})
            ctx = dataclasses.replace(ctx, request=cut)
        return inner(ctx)

    return handle


def _etag_hash(answer: Answer) -> None:
    if answer.status == 200 and "ETag" in answer.headers:
        answer.headers["ETag"] = f'"{hashlib.sha1(answer.body).hexdigest()[:16]}"'


def _duplicate_code(parts: Parts) -> None:
    engine = parts.engine
    inner = engine.claim

    def claim(tx: Transaction, kind: Kind, data: Mapping[str, Any]) -> None:
        if kind.name != "School":
            inner(tx, kind, data)
            return
        keys = {name: value for name, value in kind.unique_values(data).items() if name != "code"}
        try:
            tx.claim(kind.name, keys, str(data["id"]))
        except UniqueViolation as exc:
            raise duplicate(exc.name) from None

    engine.claim = claim  # type: ignore[method-assign]


def _deleted_cached(parts: Parts) -> None:
    engine = parts.engine
    cache: dict[str, dict[str, Any]] = {}

    def remember(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            with ctx.store.read(engine.api) as tx:
                row = tx.get("Position", ctx.request.path["id"])
            reply = inner(ctx)
            if row is not None:
                cache[row.id] = row.data
            return reply

        return handle

    def serve_cached(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            try:
                return inner(ctx)
            except ApiError as error:
                cached = cache.get(ctx.request.path["id"])
                if error.status != 404 or cached is None:
                    raise
                return Reply(200, cached)

        return handle

    handler(parts, "deletePosition", remember)
    handler(parts, "getPosition", serve_cached)


# -- §6 rate limits --------------------------------------------------------------------------


def _never_limited(parts: Parts) -> None:
    limiter: Any = parts.app.limiter
    inner = limiter.hit

    def hit(operation: Operation, principal: Principal, client: str, body: bytes) -> Any:
        try:
            return inner(operation, principal, client, body)
        except ApiError as error:
            if error.status != 429:
                raise
            return {k: v for k, v in error.headers.items() if k.startswith("X-RateLimit")}

    limiter.hit = hit


def _one_window(parts: Parts) -> None:
    """The limiter keys its windows by the token's role claim instead of its subject: every
    caller of a role shares one window."""
    limiter: Any = parts.app.limiter
    limiter._key = lambda policy, principal, client, body: f"role:{principal.role}"


def _no_retry_after(answer: Answer) -> None:
    if answer.status == 429:
        answer.headers.pop("Retry-After", None)


def _limit_before_auth(parts: Parts) -> None:
    """The limiter runs per client address before authentication: once a principal from an
    address is over its limit, a bad token from that address gets 429 instead of 401."""
    blocked: dict[str, float] = {}

    def edit(answer: Answer) -> None:
        now = time.monotonic()
        if answer.status == 429:
            retry = int(answer.headers.get("Retry-After", "1"))
            blocked[answer.client] = now + retry
        elif answer.status == 401 and blocked.get(answer.client, 0) > now:
            retry = max(1, math.ceil(blocked[answer.client] - now))
            answer.status = 429
            answer.headers.pop("WWW-Authenticate", None)
            answer.headers["Retry-After"] = str(retry)

            def change(payload: Any) -> None:
                payload.update(
                    error="Too Many Requests",
                    code="RATE_LIMITED",
                    message=f"over the rate limit; retry after {retry} s",
                    statusCode=429,
                    retryable=True,
                    retryAfter=retry,
                )

            answer.edit_json(change)

    answers(parts, edit)


def _remaining_rises(parts: Parts) -> None:
    count = [0]
    lock = threading.Lock()

    def edit(answer: Answer) -> None:
        if "X-RateLimit-Remaining" not in answer.headers or answer.status >= 400:
            return
        with lock:
            count[0] += 1
            odd = count[0] % 2 == 1
        if odd:  # every other answer reads a stale replica's count
            remaining = int(answer.headers["X-RateLimit-Remaining"])
            limit = int(answer.headers["X-RateLimit-Limit"])
            answer.headers["X-RateLimit-Remaining"] = str(min(limit, remaining + 2))

    answers(parts, edit)


# -- §7 latency ------------------------------------------------------------------------------


def _always_slow(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            time.sleep(0.3)  # an unindexed join
            return inner(ctx)

        return handle

    handler(parts, "listPositions", wrap)


def _slow_tail(parts: Parts) -> None:
    count = [0]
    lock = threading.Lock()

    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            with lock:
                count[0] += 1
                tenth = count[0] % 10 == 0
            if tenth:
                time.sleep(0.4)  # every 10th call misses the cache
            return inner(ctx)

        return handle

    handler(parts, "getContentItems", wrap)


def _slow_delete(parts: Parts) -> None:
    def wrap(inner: Handler) -> Handler:
        def handle(ctx: Context) -> Reply:
            time.sleep(0.3)  # rewrites every audit entry that names the school, one by one
            return inner(ctx)

        return handle

    handler(parts, "deleteSchool", wrap)


# -- §8 every response -----------------------------------------------------------------------


def _request_id_ignored(parts: Parts) -> None:
    app = parts.app
    inner = app.handle

    def handle(
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        oversized: bool,
        client: str,
    ) -> tuple[int, dict[str, str], bytes]:
        without = {k: v for k, v in headers.items() if k != "x-request-id"}
        return inner(method, path, query_string, without, body, oversized, client)

    app.handle = handle  # type: ignore[method-assign]


def _nosniff_on_errors(answer: Answer) -> None:
    if answer.status >= 400:
        answer.headers.pop("X-Content-Type-Options", None)


def _status_code_400(answer: Answer) -> None:
    if answer.status == 404:
        answer.edit_json(lambda payload: payload.update(statusCode=400))


def _everywhere(change: Callable[[Answer], None]) -> Callable[[Parts], None]:
    return lambda parts: answers(parts, change)


DEFECTS: tuple[Defect, ...] = (
    Defect("missing-required-field", "§1 a 2xx body matches its schema",
           "getHealth leaves out the required `version`", "gloria", "getHealth",
           answers_of("getHealth", _drop_version),
           rules=("response_schema_conformance",)),
    Defect("wrong-type", "§1 a 2xx body matches its schema",
           "getUserStats sends `total` as a string", "gloria", "getUserStats",
           answers_of("getUserStats", _total_as_text),
           rules=("response_schema_conformance",)),
    Defect("undocumented-content-type", "§1 JSON as documented",
           "getContentCategories answers text/plain", "tchat", "getContentCategories",
           answers_of("getContentCategories", _plain_text),
           rules=("content_type_conformance",)),
    Defect("undocumented-status", "§2 only documented status codes",
           "recordMetrics answers 200 where 202 is documented", "tchat", "recordMetrics",
           answers_of("recordMetrics", _ok_not_accepted),
           rules=("status_code_conformance",)),
    Defect("server-error-on-long-search", "§2 never a 5xx",
           "listSchools fails with 500 on a `search` over 64 characters", "gloria", "listSchools",
           _long_search_fails,
           rules=("not_a_server_error",)),
    Defect("stack-trace-in-error", "§8 no stack trace, SQL or path in a body",
           "getSchool's 404 carries a Python traceback", "gloria", "getSchool", _trace_in_404,
           rules=("no_leaks",)),
    Defect("request-id-not-echoed", "§8 X-Request-ID echoed",
           "a new X-Request-ID on every answer, whatever the client sent", "tchat",
           "every operation", _request_id_ignored,
           rules=("request_id",)),
    Defect("nosniff-missing", "§8 X-Content-Type-Options: nosniff",
           "error answers lack X-Content-Type-Options", "gloria", "every error",
           _everywhere(_nosniff_on_errors),
           rules=("nosniff", "response_headers_conformance")),
    Defect("status-code-mismatch", "§1 statusCode equals the status",
           "404 bodies say statusCode 400", "gloria", "every 404", _everywhere(_status_code_400),
           rules=("error_envelope", "response_schema_conformance")),
    Defect("no-store-missing", "§4 token responses are not stored",
           "login and refresh answers lack Cache-Control: no-store", "gloria",
           "login, refreshToken", _everywhere(_no_store_missing),
           rules=("no-store", "response_headers_conformance")),
    Defect("www-authenticate-missing", "§4 401 carries WWW-Authenticate",
           "401 answers lack the WWW-Authenticate challenge", "tchat", "every 401",
           _everywhere(_no_challenge),
           rules=("www-authenticate", "response_headers_conformance")),
    Defect("expired-token-accepted", "§4 an expired token is 401",
           "access tokens are accepted after they expire", "gloria", "every operation",
           _expired_accepted,
           rules=("expired-401",)),
    Defect("alg-none-accepted", "§4 an unsigned token is 401",
           "a token with alg none and no signature is accepted", "tchat", "every operation",
           _alg_none_accepted,
           rules=("bad-token-401", "forged-token-401")),
    Defect("weak-jwt-key", "§4 tokens are signed with a secret key",
           "access tokens are signed with the key `secret`", "gloria", "every token",
           _weak_jwt_key,
           rules=("weak-jwt-secret",)),
    Defect("user-enumeration", "§4 a login does not tell which accounts exist",
           "login of an unknown email says `no account has this email`", "tchat", "login",
           _unknown_user_told,
           rules=("user-enumeration",)),
    Defect("no-login-throttle", "§6 login has its own, stricter limit",
           "any number of logins, wrong passwords included, is served", "gloria", "login",
           _login_unlimited,
           rules=("login-throttling", "login-limit")),
    Defect("refresh-not-rotated", "§4 refresh rotates the pair",
           "refresh hands back the same refresh token, which keeps working", "gloria",
           "refreshToken", _not_rotated,
           rules=("refresh-rotates",)),
    Defect("refresh-reuse-undetected", "§4 a reused refresh token revokes its family",
           "a used refresh token is refused, but its family lives on", "tchat", "refreshTokens",
           _reuse_undetected,
           rules=("reuse-revokes-family",)),
    Defect("logout-not-revoking", "§4 logout revokes the family",
           "logout answers 204 and revokes nothing", "gloria", "logout", _logout_keeps_tokens,
           rules=("logout-revokes",)),
    Defect("rate-limit-before-auth", "§4 401 before 429",
           "a bad token from an address that is over a limit gets 429, not 401", "gloria",
           "every operation", _limit_before_auth,
           rules=("auth-before-limit",)),
    Defect("auth-not-enforced", "§4 no credentials is 401",
           "listSchools answers without a token", "gloria", "listSchools", _auth_skipped,
           rules=("ignored_auth", "missing_required_header", "no-credentials-401")),
    Defect("private-resource-visible", "§4 another user's private resource is 404",
           "staff read anyone's notification", "gloria", "getNotification", _private_leak,
           rules=("private-404",)),
    Defect("role-not-enforced", "§4 a role outside x-roles is 403",
           "staff may delete schools", "gloria", "deleteSchool", _role_unchecked,
           rules=("role-403",)),
    Defect("mass-assignment-role", "§4 a request sets only what its schema offers",
           "createUser keeps the `permissions` its body names, which it does not offer",
           "gloria", "createUser", _permissions_kept,
           rules=("mass-assignment",)),
    Defect("password-hash-exposed", "§1 a 2xx body matches its schema; no secret in an answer",
           "getUser answers the account's `passwordHash`", "gloria", "getUser", _hash_in_user,
           rules=("secret-exposed", "response_schema_conformance")),
    Defect("bola-update", "§4 another user's private resource is 404",
           "staff change anyone's workflow instance", "gloria", "updateWorkflowInstance",
           _owner_unchecked_on_update, rules=("bola-write", "private-404")),
    Defect("admin-open", "§4 a role outside x-roles is 403",
           "staff may list the audit log", "gloria", "listAuditLogs", _admin_open,
           rules=("function-level-403", "role-403")),
    Defect("pagination-total-wrong", "§3 totals agree with the items",
           "listDepartments counts one department too many", "gloria", "listDepartments",
           answers_of("listDepartments", _total_off_by_one),
           rules=("pagination",)),
    Defect("limit-unenforced", "§3 a page size within its documented maximum",
           "listSchools honours a `limit` over its maximum of 100", "gloria", "listSchools",
           _limit_honoured,
           rules=("maximum-enforced", "response_schema_conformance")),
    Defect("ghost-after-delete", "§3 a deleted resource is gone from the list",
           "a deleted position is still listed (and counted), though its GET is 404", "gloria",
           "listPositions, deletePosition", _archive_listed,
           rules=("deleted-unlisted",)),
    Defect("overlapping-page", "§3 pages partition the collection",
           "listPositions pages after the first start one item early", "gloria",
           "listPositions", lambda parts: pages(parts, "listPositions", _one_early),
           rules=("pages-partition",)),
    Defect("filter-ignored", "§3 a filtered list holds only what matches",
           "listPositions ignores `departmentId`", "gloria", "listPositions",
           lambda parts: handler(parts, "listPositions", _department_ignored),
           rules=("filter-holds",)),
    Defect("unfiltered-total", "§3 total counts the filtered set",
           "listPositions filtered by `departmentId` counts every department in `total`",
           "gloria", "listPositions",
           lambda parts: pages(parts, "listPositions", _total_unfiltered),
           rules=("filter-holds",)),
    Defect("list-item-differs", "§3 a listed item is what its GET shows",
           "listPositions shows every position's isActive the other way round", "gloria",
           "listPositions", lambda parts: pages(parts, "listPositions", _active_inverted),
           rules=("listed-as-read",)),
    Defect("sorted-per-page", "§3 a stated sort order holds across pages",
           "listPositions sorts each page on its own, not the list", "gloria", "listPositions",
           lambda parts: pages(parts, "listPositions", _sorted_per_page),
           rules=("pages-partition",)),
    Defect("stale-version-accepted", "§5 a stale version is 409",
           "updateSchool applies a change made from an old version (lost update)", "gloria",
           "updateSchool", _version_ignored,
           rules=("stale-409", "one-of-concurrent")),
    Defect("partial-write-on-reject", "§5 a rejected change changes nothing",
           "a refused updateDepartment still saves the new name", "gloria", "updateDepartment",
           _partial_write,
           rules=("rejected-unchanged",)),
    Defect("create-truncates", "§5 a successful mutation returns what the client sent",
           "createContentItem cuts titles to 40 characters, silently", "tchat",
           "createContentItem",
           lambda parts: handler(parts, "createContentItem", _title_truncated),
           rules=("converges",)),
    Defect("etag-not-version", "§5 ETag is the version",
           "getContentItem's ETag is a hash of the body", "tchat", "getContentItem",
           answers_of("getContentItem", _etag_hash),
           rules=("etag-version", "response_headers_conformance")),
    Defect("duplicate-accepted", "§5 a duplicate unique key is 409",
           "two schools may share a `code`", "gloria", "createSchool, updateSchool",
           _duplicate_code,
           rules=("duplicate-409",)),
    Defect("stale-delete-accepted", "§5 a stale If-Match is 409",
           "deletePosition deletes whatever If-Match says", "gloria", "deletePosition",
           _delete_unconditional,
           rules=("stale-delete-409",)),
    Defect("bulk-stale-applied", "§5 a bulk item with a stale version fails alone",
           "bulkUpdateContent applies items whose version is stale", "tchat",
           "bulkUpdateContent", _bulk_versions_ignored,
           rules=("bulk-per-item",)),
    Defect("deleted-still-readable", "§2 a deleted resource is 404",
           "a deleted position is still served from a cache", "gloria", "getPosition",
           _deleted_cached,
           rules=("deleted-404", "use_after_free")),
    Defect("rate-limit-not-enforced", "§6 over the limit is 429",
           "requests over the limit are served", "tchat", "every operation", _never_limited,
           rules=("limit-enforced", "login-limit")),
    Defect("global-rate-limit", "§6 limits are per principal",
           "every caller of a role shares one window", "gloria", "every operation",
           _one_window,
           rules=("per-principal",)),
    Defect("retry-after-missing", "§6 a 429 carries Retry-After",
           "429 answers lack Retry-After", "tchat", "every 429", _everywhere(_no_retry_after),
           rules=("rate-limited-answer", "rate_limit_headers", "response_headers_conformance")),
    Defect("remaining-rises", "§6 Remaining never rises in a window",
           "every other answer reports 2 more requests remaining", "gloria", "every operation",
           _remaining_rises,
           rules=("remaining-monotonic",)),
    Defect("slow-operation", "§7 p95 within the latency budget",
           "listPositions takes 300 ms every time", "gloria", "listPositions", _always_slow,
           rules=("latency-budget",)),
    Defect("slow-tail", "§7 p95 within the latency budget",
           "every 10th getContentItems takes 400 ms (median fine, p95 over)", "tchat",
           "getContentItems", _slow_tail,
           rules=("latency-budget",)),
    Defect("slow-delete", "§7 p95 within the latency budget",
           "deleteSchool takes 300 ms more every time", "gloria", "deleteSchool", _slow_delete,
           rules=("latency-budget",)),
    Defect("sql-injection-search", "§8 input never reaches a query as code",
           "listSchools splices `search` into its SQL: a quote answers 500 with sqlite's error",
           "gloria", "listSchools", _search_concatenated,
           rules=("injection-signal",)),
    Defect("debug-endpoint", "§8 no debug endpoint answers data",
           "an undocumented GET /debug/vars answers the backend's settings", "gloria",
           "GET /debug/vars (undocumented)", _debug_vars,
           rules=("debug-endpoint",)),
)  # fmt: skip

BY_NAME = {defect.name: defect for defect in DEFECTS}


def defects_named(names: Iterable[str]) -> list[Defect]:
    """The defects of ``names``, in name order; a ConfigError for the first name no defect has.
    The one place a defect's name is looked up (`Settings.defects` holds names only)."""
    for name in sorted(set(names) - set(BY_NAME)):
        raise ConfigError(
            f"--defect {name!r}: no such defect; `conformance serve --list-defects` lists them"
        )
    return [BY_NAME[name] for name in sorted(set(names))]


def apply_defects(chosen: Sequence[Defect], parts: Parts) -> list[Defect]:
    """Switch on those of ``chosen`` that act on ``parts.api``; the ones applied."""
    applied = [defect for defect in chosen if defect.api == parts.api]
    for defect in applied:
        defect.apply(parts)
    return applied
