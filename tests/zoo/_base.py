"""What the zoo's apps share: routing with 404 and 405 (``Allow``), the credential check before
anything else, JSON bodies and queries read off the wire, bodies validated against the app's
own spec, and the in-memory data behind one lock, with a snapshot a test reads in Python (no
endpoint of the spec). Each app keeps only what it is: its spec, its routes, its error style,
its handlers and, in ``planted`` mode, its bugs."""

from __future__ import annotations

import collections
import copy
import json
import re
import threading
import urllib.parse
from collections.abc import Collection, Iterator
from typing import Any, ClassVar

import jsonschema

from tests.servers import AnyMethod

JSON = "application/json"
#: what a body is when it is absent, not JSON, or not sent as JSON
NOT_JSON: Any = object()
#: the most digits an integer parameter may have (Python refuses to read more than 4,300)
DIGITS = 4000


class Route:
    """One path template of an app: its pattern and the handler method of each HTTP method."""

    def __init__(self, template: str, **methods: str) -> None:
        self.template = template
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "([^/]+)", re.escape(template))
        self.pattern = re.compile(pattern)
        self.methods = methods

    def match(self, path: str) -> tuple[str, ...] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else tuple(map(urllib.parse.unquote, found.groups()))


#: the range an integer ``format`` allows (a schema validator only annotates it)
WIDTHS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _bounded(schema: Any) -> Any:
    """``schema`` with each integer ``format``'s range written as bounds, as a typed server
    refuses a value its column cannot hold."""
    if isinstance(schema, list):
        return [_bounded(member) for member in schema]
    if not isinstance(schema, dict):
        return schema
    found = {key: _bounded(value) for key, value in schema.items()}
    if found.get("type") == "integer" and found.get("format") in WIDTHS:
        low, high = WIDTHS[found["format"]]
        found["minimum"] = max(found.get("minimum", low), low)
        found["maximum"] = min(found.get("maximum", high), high)
    return found


def validators(spec: dict[str, Any]) -> dict[str, jsonschema.protocols.Validator]:
    """A validator per component schema of ``spec`` (its ``$ref``s pointed at ``$defs``, its
    integer formats' ranges enforced)."""
    schemas = _bounded(
        json.loads(
            json.dumps(spec["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/")
        )
    )
    return {
        name: jsonschema.Draft202012Validator({**schema, "$defs": schemas})
        for name, schema in schemas.items()
    }


class Refused(Exception):
    """An error answer a handler gives by raising: ``status`` and one sentence, in the app's
    style (`ZooApp.refuse`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Invalid(Exception):
    """What the app's schema refuses: where (``body``, ``query.limit``) and why (a 422)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (members' names too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for name, member in value.items():
            yield name
            yield from strings(member)
    elif isinstance(value, list):
        for member in value:
            yield from strings(member)


def integer(raw: str, where: str) -> int:
    """``raw`` (a path or query parameter) as an integer, or `Invalid`."""
    if not re.fullmatch(rf"-?\d{{1,{DIGITS}}}", raw):
        raise Invalid(where, "Input should be a valid integer")
    return int(raw)


class ZooApp(AnyMethod):
    """An app of the zoo. A subclass sets `ROUTES`, `seeded` and the error style (`refuse`) and
    says what authenticates a request (`authorised`); `fresh` makes a class of its own per
    server, with its own data and lock, so two servers of one app never share a record."""

    ROUTES: ClassVar[tuple[Route, ...]] = ()
    #: paths served without credentials
    PUBLIC: ClassVar[frozenset[str]] = frozenset()
    #: a validator per component schema of the app's spec (`validators`)
    VALIDATORS: ClassVar[dict[str, jsonschema.protocols.Validator]] = {}
    data: ClassVar[dict[str, Any]]
    lock: ClassVar[threading.RLock]
    planted: ClassVar[bool] = False
    #: the planted bugs an app can switch on one by one (`fresh`), each by its name
    FLAWS: ClassVar[frozenset[str]] = frozenset()
    #: the bugs switched on: all of `FLAWS` when ``planted`` is True, else the names given
    flaws: ClassVar[frozenset[str]] = frozenset()
    #: the planted bugs that acted, by name, in order (a test tells a bug reached from one
    #: whose operation failed for another reason)
    hits: ClassVar[list[str]]
    #: the requests the app was sent, by method and route (``"?"`` for no route): what each
    #: tool spent (the bench's requests column)
    served: ClassVar[collections.Counter[tuple[str, str]]]
    #: the requests refused for their credentials (401), each as its route and what it carried
    #: in its headers and query (a test reads how a tool presents a credential)
    unauthorised: ClassVar[list[tuple[str, str]]]
    query: dict[str, list[str]]

    # -- the app as a test sees it --------------------------------------------------------------

    @classmethod
    def seeded(cls) -> dict[str, Any]:
        """The data the app holds before any request: records nobody's run made."""
        raise NotImplementedError

    @classmethod
    def fresh(cls, planted: bool | Collection[str] = False) -> type[ZooApp]:
        """A class of this app with its seed data, its own lock, its bugs on or off (or, for an
        app with `FLAWS`, only those named: ``planted={"sql-injection"}``)."""
        flaws = cls.FLAWS if planted is True else frozenset(planted or ())
        if unknown := flaws - cls.FLAWS:
            raise ValueError(f"{cls.__name__} has no planted flaw {sorted(unknown)}")
        attributes = {
            "data": cls.seeded(),
            "lock": threading.RLock(),
            "planted": bool(planted),
            "flaws": flaws,
            "hits": [],
            "served": collections.Counter(),
            "unauthorised": [],
        }
        return type(cls.__name__, (cls,), attributes)

    @classmethod
    def snapshot(cls) -> dict[str, Any]:
        """A copy of the app's records (its counters left out: they only ever grow)."""
        with cls.lock:
            return copy.deepcopy({k: v for k, v in cls.data.items() if not k.startswith("next_")})

    @classmethod
    def next_id(cls, counter: str) -> int:
        cls.data[counter] += 1
        return int(cls.data[counter])

    def hit(self, bug: str) -> None:
        """The planted bug ``bug`` acts now."""
        self.hits.append(bug)

    def flawed(self, bug: str) -> bool:
        """Whether the planted flaw ``bug`` (of `FLAWS`) is on; recorded as acting when it is."""
        if bug in self.flaws:
            self.hit(bug)
            return True
        return False

    # -- what a subclass says -------------------------------------------------------------------

    def authorised(self) -> bool:
        raise NotImplementedError

    def refuse(self, status: int, message: str, **headers: str) -> None:
        """An error answer in the app's own style."""
        raise NotImplementedError

    def invalid(self, where: str, message: str) -> None:
        """The answer to what the app's schema refuses (a 422 in the app's style)."""
        self.refuse(422, f"{where}: {message}")

    def answer(self, status: int, body: Any, media: str, **headers: str) -> None:
        """Answer ``status`` with ``body`` as JSON of the media type ``media``."""
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # -- serving --------------------------------------------------------------------------------

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)
        for route in self.ROUTES:
            if (arguments := route.match(path)) is not None:
                break
        else:
            self.served[(self.command, "?")] += 1
            return self.refuse(404, "Not Found")
        self.served[(self.command, route.template)] += 1
        if self.command not in route.methods:
            return self.refuse(405, "Method Not Allowed", Allow=", ".join(route.methods))
        if path not in self.PUBLIC and not self.authorised():
            carried = f"{self.headers} {query}"
            self.unauthorised.append((f"{self.command} {route.template}", carried))
            return self.refuse(401, "Not authenticated")
        try:
            with self.lock:
                getattr(self, route.methods[self.command])(*arguments)
        except Refused as refused:
            self.refuse(refused.status, refused.message)
        except Invalid as invalid:
            self.invalid(invalid.where, invalid.message)
        except Exception:  # as a framework answers a crash (a planted bug): 500, no traceback
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "21")
            self.end_headers()
            self.wfile.write(b"Internal Server Error")

    def body(self) -> Any:
        """The request's JSON body, or `NOT_JSON` (read whole in any case)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if media != JSON or not raw:
            return NOT_JSON
        try:
            return json.loads(raw)
        except ValueError:
            return NOT_JSON

    def valid_body(self, schema: str) -> Any:
        """The request's JSON body if ``schema`` (of the app's `VALIDATORS`) holds it, else
        `Invalid`."""
        body = self.body()
        if body is NOT_JSON or not self.VALIDATORS[schema].is_valid(body):
            raise Invalid("body", f"Input should be a valid {schema}")
        return body

    def integer(self, name: str, default: int) -> int:
        """The query parameter ``name`` as an integer (``default`` when absent)."""
        values = self.query.get(name)
        if not values:
            return default
        return integer(values[0], f"query.{name}")

    def text(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None
