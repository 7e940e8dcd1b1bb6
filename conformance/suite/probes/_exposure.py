"""Excessive data exposure (OWASP API3): what a read answers beyond what a client needs.

Reads only: each list operation's first page, the first item of each list read by its own GET,
and the reads that need no parameter (``/users/me``). Each 2xx JSON answer is judged twice:

- ``secret-exposed``: a member whose name says it is a secret (a password or its hash, a salt, a
  key, a token that is no login's answer, a card number …) with a value, or a value shaped like
  one whatever its name (a bcrypt, argon2, scrypt or PBKDF2 hash; a JWT under a name that is
  no token's). The message names the member and the value's shape, never
  the value.
- ``undeclared-fields`` (a warning: a schema may be open by design): members the operation's
  documented response does not declare, where the schema declares ``properties`` and does not
  open itself with ``additionalProperties``.

The login and refresh answers (the auth flow's tokens) are never read here: only GETs are sent.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.contract import Operation, Spec, resources
from conformance.suite._journal import item_path_of
from conformance.suite.scenarios._collections import _items
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    Violation,
    scenario_rule,
)

SECRET_EXPOSED = scenario_rule("secret-exposed")
UNDECLARED_FIELDS = scenario_rule("undeclared-fields")

#: member names (lower case, without ``_`` and ``-``) whose values are secrets
SECRET_NAMES = frozenset({
    "password", "passwd", "passwordhash", "hashedpassword", "passwordhashed", "passworddigest",
    "encryptedpassword", "passwordsalt", "salt", "secret", "clientsecret", "secretkey",
    "apikey", "apisecret", "privatekey", "signingkey", "otpsecret", "totpsecret", "mfasecret",
    "ssn", "socialsecuritynumber", "creditcard", "creditcardnumber", "cardnumber", "cvv", "cvc",
    "token", "accesstoken", "refreshtoken", "idtoken", "sessiontoken", "authtoken",
    "resettoken", "passwordresettoken", "verificationtoken",
})  # fmt: skip
#: ``hash`` alone is a secret only beside an account's members (else a content checksum)
ACCOUNT_NAMES = frozenset({"username", "email", "login", "password"})
#: value shapes that are secrets under any name: (pattern, how the message names the shape)
SECRET_SHAPES = (
    (re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$"), "a bcrypt hash"),
    (re.compile(r"^\$argon2(id|i|d)\$"), "an argon2 hash"),
    (re.compile(r"^(pbkdf2_sha\d+|\$pbkdf2(-sha\d+)?)\$"), "a PBKDF2 hash"),
    (re.compile(r"^\$?scrypt\$"), "an scrypt hash"),
    (re.compile(r"^\$[156]\$[^$]{1,16}\$[./A-Za-z0-9]{20,}$"), "a crypt(3) hash"),
)
#: shapes that are secrets only under a name that says neither token nor checksum
TOKEN_SHAPES = (
    (re.compile(r"^eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$"), "a JWT"),
)
# a long hex string is no sign by itself: a name or title a client (or the fuzzing) wrote may be
# one, and a hash under a secret's name is caught by its name
#: names under which a hex string or a JWT is expected (an id, a checksum, a token)
EXPECTED_SHAPE_WORDS = (
    "id", "sha", "hash", "checksum", "digest", "etag", "commit", "fingerprint", "md5", "token",
    "signature", "hex", "cursor",
)  # fmt: skip
#: members named once a message (the rest counted)
NAMED = 4
#: operations read at most
MAX_READS = 20


@scenario(
    "exposure",
    kind="probe",
    waits=1,  # a rate-limit window the run spent before it
    requires="GET operations (lists, their items, parameterless reads)",
    max_requests=40,
    max_seconds=30,
    order=35,
    read_only=True,
)
def exposure(context: ScenarioContext, story: Story) -> None:
    """Read what the run may read, and judge each answer's members."""
    reads = list(Reads(context.spec).plan())
    if not reads:
        raise ScenarioSkipped("no GET the probe can call without inventing a parameter")
    token = context.run_token()
    with story.part("what reads answer"):
        for operation, path in reads[:MAX_READS]:
            if story.remaining_s() < 2 or story.requests >= story.max_requests - 2:
                break
            with contextlib.suppress(Violation, StepSkipped):
                _read(story, operation, path, token)


@dataclass
class Reads:
    """The reads to judge: parameterless GETs, then each list's first item by its GET (which
    needs the list's answer first)."""

    spec: Spec

    def plan(self) -> Iterator[tuple[Operation, str | None]]:
        """``(operation, path)``; a None path is filled from its list's first item at run
        time (`_read`)."""
        items = {r.get.operation_id: r for r in resources(self.spec) if r.get and r.list}
        for operation in self.spec.operations:
            if operation.method != "get":
                continue
            if not operation.required_parameters:
                yield operation, operation.path
            elif operation.operation_id in items:
                yield operation, None


def _read(story: Story, operation: Operation, path: str | None, token: str | None) -> None:
    """One read, two claims: no secret (a finding ends only this claim), declared members."""
    got: list[tuple[httpx.Response, Any]] = []
    with contextlib.suppress(Violation), story.step(f"{operation.label} answers no secret"):
        if path is None:
            path = _first_item_path(story, operation, token)
        response = story.send(operation, token=token, path=path)
        body = _body(response)
        if body is None:
            raise StepSkipped(f"answered {response.status_code}, no JSON to judge")
        got.append((response, body))
        found = list(exposed(body, own=token))
        story.check(
            not found,
            SECRET_EXPOSED,
            f"{_where(operation, path)} answered {len(found)} secret-looking"
            f" member{'s' if len(found) != 1 else ''}: " + _named(found),
        )
    if not got:
        return
    response, body = got[0]
    with story.step(f"{operation.label} answers only the members its schema declares"):
        documented = story.spec.documented_response(operation, response.status_code)
        schema = story.spec.json_schema(documented[1]) if documented else None
        if schema is None:
            raise StepSkipped("its documented answer declares no JSON schema")
        extra = list(undeclared(story.spec, schema, body))
        story.check(
            not extra,
            UNDECLARED_FIELDS,
            f"{_where(operation, path)} answered {len(extra)} member"
            f"{'s' if len(extra) != 1 else ''} its schema does not declare: " + _named(extra),
        )


def _where(operation: Operation, path: str | None) -> str:
    return operation.label if path in (None, operation.path) else f"{operation.label} ({path})"


def _first_item_path(story: Story, get: Operation, token: str | None) -> str:
    resource = next(r for r in resources(story.spec) if r.get is get)
    assert resource.list is not None
    if resource.list.required_parameters:
        raise StepSkipped(f"its list {resource.list.label} needs parameters")
    listed = story.send(resource.list, token=token, attached=False)
    _, items = _items(_body(listed))
    first = next((item for item in items if isinstance(item, dict)), None)
    path = item_path_of(resource, first) if first is not None else None
    if path is None:
        raise StepSkipped(f"{resource.list.label} lists no item to read ({listed.status_code})")
    return path


def _body(response: httpx.Response) -> Any:
    if not 200 <= response.status_code < 300:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def exposed(body: Any, where: str = "", own: str | None = None) -> Iterator[str]:
    """``where: what`` for each member of ``body`` that is a secret by its name or its value's
    shape (the value itself is never said). The caller's own token (``own``, or a JWT of the
    same subject: RealWorld's ``GET /user`` answers the user a fresh one) is no leak."""
    if isinstance(body, list):
        for index, item in enumerate(body[:50]):
            yield from exposed(item, f"{where}[{index}]", own)
        return
    if not isinstance(body, Mapping):
        return
    names = {_normal(str(name)) for name in body}
    for name, value in body.items():
        at = f"{where}.{name}" if where else str(name)
        if isinstance(value, (Mapping, list)):
            yield from exposed(value, at, own)
            continue
        if own and isinstance(value, str) and same_subject(value, own):
            continue
        shape = secret(str(name), value, account=bool(names & ACCOUNT_NAMES))
        if shape:
            yield f"`{at}` ({shape})"


#: the claims of a JWT that say whose it is (a session's id, its times and kind do not)
_IDENTITY = ("sub", "user_id", "userId", "uid", "username", "email", "id")


def same_subject(value: str, own: str) -> bool:
    """Whether ``value`` is the caller's own token: ``own`` itself, or a JWT that names the same
    subject (its ``sub``, ``user_id`` … read, not verified; another session of the same user,
    as RealWorld's ``GET /user`` answers, is the caller's own too)."""
    if value == own:
        return True
    theirs, mine = _claims(value), _claims(own)
    if not theirs or not mine:
        return False
    who = {name: mine[name] for name in _IDENTITY if name in mine}
    return bool(who) and who == {name: theirs.get(name) for name in who}


def _claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return found if isinstance(found, dict) else None


def secret(name: str, value: Any, *, account: bool = False) -> str:
    """How ``value`` under ``name`` looks like a secret ("" when it does not): its name and
    shape, and its length."""
    if not isinstance(value, str) or not value.strip() or set(value) <= set("*x•#-. "):
        return ""  # empty, or masked by the API itself
    normal = _normal(name)
    for pattern, shape in SECRET_SHAPES:
        if pattern.match(value):
            return f"{shape}, {len(value)} chars"
    if normal in SECRET_NAMES or (normal == "hash" and account):
        return f"named like a secret, {len(value)} chars"
    if not any(word in normal for word in EXPECTED_SHAPE_WORDS):
        for pattern, shape in TOKEN_SHAPES:
            if pattern.match(value):
                return f"{shape}, {len(value)} chars"
    return ""


def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def undeclared(
    spec: Spec, schema: Any, body: Any, where: str = "", depth: int = 0
) -> Iterator[str]:
    """``where`` of each member of ``body`` that ``schema`` does not declare, where the schema
    declares ``properties`` and leaves ``additionalProperties`` unsaid or false; through
    ``$ref``, ``allOf``, ``oneOf`` and ``anyOf``, and into declared members and array items."""
    schema = spec.deref(schema)
    if depth > 8 or not isinstance(schema, Mapping):
        return
    if isinstance(body, list):
        items = schema.get("items")
        for index, item in enumerate(body[:20]):
            yield from undeclared(spec, items, item, f"{where}[{index}]", depth + 1)
        return
    if not isinstance(body, Mapping):
        return
    declared = _declared(spec, schema)
    if declared is None:
        return
    for name, value in body.items():
        at = f"{where}.{name}" if where else str(name)
        if name not in declared:
            yield f"`{at}`"
        elif isinstance(value, (Mapping, list)):
            yield from undeclared(spec, declared[name], value, at, depth + 1)


def _declared(spec: Spec, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """name -> schema of what ``schema`` declares; None where it is open or declares nothing
    (a branch without ``properties``, ``additionalProperties`` other than false)."""
    found = dict(spec.properties(schema))
    branches = [*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())]
    for branch in branches:
        members = _declared(spec, spec.deref(branch)) if isinstance(
            spec.deref(branch), Mapping
        ) else None  # fmt: skip
        if members is None:
            return None
        found.update({k: v for k, v in members.items() if k not in found})
    opened = [schema.get("additionalProperties")] + [
        spec.deref(part).get("additionalProperties")
        for part in schema.get("allOf") or ()
        if isinstance(spec.deref(part), Mapping)
    ]
    if any(value not in (None, False) for value in opened):
        return None
    if not found or not (spec.properties(schema) or branches):
        return None
    return found


def _named(found: list[str]) -> str:
    shown = ", ".join(found[:NAMED])
    return shown + (f" and {len(found) - NAMED} more" if len(found) > NAMED else "")
