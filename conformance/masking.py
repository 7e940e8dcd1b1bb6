"""Secrets never leave a run: masked by value in everything it writes or prints.

The run registers what it knows to be secret (passwords, static tokens, every token a login or
refresh of its own hands back) in `SECRETS`; `mask` replaces each of them, also base64-, URL-
and JSON-encoded, wherever it appears. Tokens the run never saw itself (those a fuzzed login
hands back, or one a backend echoes) are caught by shape: JWTs, ``Bearer`` credentials, and the
values of JSON members named like ``accessToken`` or ``password``. Header names alone are not
enough: a backend may echo a token in a body, a message may quote a request.

A masked value still shows that it was there: ``"secret":"[masked: string, 24 chars]"`` (what
it was and how long), so that a response exposing another user's secret shows the exposure and
never the value. The mask holds no quote or backslash: it keeps JSON valid wherever it lands.

A reproduction must run as pasted, so a credential the user gives the run is registered with
the variable that holds it (``add(token, variable="CONFORMANCE_TCHAT_TOKEN")``), and
`reproduction` writes a curl line with ``"$CONFORMANCE_TCHAT_TOKEN"`` where the value was (its
base64 form, in a Basic header, as the shell computes it); every other secret in it is masked.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

#: what every mask starts with (`masked` writes them)
MASK = "[masked"
#: a mask already written (and the bare ``[masked]`` of older reports): never masked again
MASKED = re.compile(r"\[masked(?:: [^\[\]\"\\]*)?\]")
#: a shell variable as a reproduction names a credential: not a secret, never masked
VARIABLE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
#: what a variable may be called (anything else leaves its value masked in reproductions)
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: a value that is a reproduction's shell text for a credential (the suite's variables, or a
#: form computed from one): a JSON member holding it is not masked
SHELL_TEXT = re.compile(r"\$\{?CONFORMANCE_[A-Z0-9_]+\}?|\$\(printf %s ")
#: how a reproduction computes a credential's percent-encoded form (every byte as ``%xx``) and
#: its JSON-escaped form from the variable, with POSIX tools (GNU and BSD alike)
PERCENT_ENCODED = "od -An -v -tx1 | tr -d ' \\n' | sed 's/../%&/g'"
JSON_ESCAPED = "sed 's/[\"\\\\]/\\\\&/g'"
#: shorter values are not masked (they would mask ordinary text)
SHORTEST = 4

#: a JWT (``alg: none`` ones have an empty signature)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: a credential after its scheme (not a challenge's parameters: ``Bearer error="…"``)
BEARER = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?!\[masked|(?:realm|error|error_description|error_uri|scope)\s*=)"
    r"([A-Za-z0-9._~+/=-]{4,})"
)
#: JSON members (also as they appear escaped inside another JSON string) whose values are secret
SECRET_MEMBER = re.compile(
    r"""(?ix)
    ( (?:\\?")
      (?:access_?token|refresh_?token|id_?token|token|password|new_?password|current_?password
         |secret|client_?secret|api_?key|password_?hash|hashed_?password|password_?digest
         |private_?key|salt)
      (?:\\?") \s* : \s* (?:\\?") )
    ( (?:[^"\\]|\\[^"])* )
    ( \\?" )
    """
)


def secret_member(name: str) -> bool:
    """Whether a JSON member of this name holds a secret (a password, a token, a key)."""
    return SECRET_MEMBER.fullmatch(f'"{name}":"x"') is not None


#: request headers that carry credentials: in a reproduction, a value in them that is not one
#: of the run's named credentials is masked whatever its shape (a session cookie, ``Token …``)
CREDENTIAL_HEADERS = re.compile(r"(?i)^(authorization|proxy-authorization|cookie)(\s*:\s*)(.*)$")


def masked(value: str, kind: str = "string") -> str:
    """The mask of ``value``: what it was and how long, never the value
    (``[masked: string, 24 chars]``)."""
    count = len(value)
    return f"[masked: {kind}, {count} char{'' if count == 1 else 's'}]"


def encodings(value: str) -> set[str]:
    """The forms a secret takes in text: as is, base64 (standard and URL-safe, with and without
    padding), URL-encoded, and JSON-escaped."""
    raw = value.encode("utf-8")
    found = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        found |= {text, text.rstrip("=")}
    found.add(json.dumps(value)[1:-1])
    return {form for form in found if len(form) >= SHORTEST}


def _member_value(escaped: str) -> str:
    """A JSON member's value as it was (the regex sees it escaped), for its mask's length."""
    try:
        value = json.loads(f'"{escaped}"')
    except ValueError:
        return escaped
    return value if isinstance(value, str) else escaped


def _mask_member(match: re.Match[str]) -> str:
    value = match.group(2)
    if MASKED.fullmatch(value) or SHELL_TEXT.fullmatch(value):
        return match.group(0)  # masked already, or a reproduction's variable
    return f"{match.group(1)}{masked(_member_value(value))}{match.group(3)}"


def _double_quoted(text: str) -> str:
    """``text`` as it reads inside double quotes (the shell expands nothing of it; an
    interactive shell expands ``!`` there, so each one is single-quoted apart)."""
    return re.sub(r'(["\\$`])', r"\\\1", text).replace("!", "\"'!'\"")


def _alternation(ordered: tuple[str, ...], text: str) -> re.Pattern[str] | None:
    """A pattern of the forms of ``ordered`` that occur in ``text``, in their order; None when
    none does."""
    found = [form for form in ordered if form in text]
    return re.compile("|".join(re.escape(form) for form in found)) if found else None


class Masker:
    """The run's secrets (thread-safe: the engine's auth runs in its worker thread), and the
    shell variables that hold those a user gave (for reproductions)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        #: the forms, longest first (None: to sort again after an add)
        self._ordered: tuple[str, ...] | None = None
        #: a secret's form -> the shell text that stands for it in a reproduction
        self._named: dict[str, str] = {}
        self._named_ordered: tuple[str, ...] | None = None

    def add(self, *values: str | None, variable: str | None = None) -> None:
        """``values`` are secret from now on; with ``variable``, each is what that environment
        variable holds (a credential the user gives, or one the run obtained with it), and a
        reproduction writes ``$variable`` where it stands."""
        with self._lock:
            for value in values:
                if value and len(value) >= SHORTEST:
                    self._forms |= encodings(value)
                    if variable is not None and VARIABLE_NAME.fullmatch(variable):
                        self._name(value, f"${variable}")
            self._ordered = None

    def add_basic(
        self,
        username: str | None,
        password: str | None,
        *,
        username_variable: str | None = None,
        password_variable: str | None = None,
    ) -> None:
        """An account's password, and the ``user:password`` pair as Basic auth encodes it; with
        both variables, a reproduction's Basic header is computed from them."""
        self.add(password, variable=password_variable)
        if username and password:
            self.add(f"{username}:{password}")
            names = (username_variable, password_variable)
            if all(name is not None and VARIABLE_NAME.fullmatch(name) for name in names):
                with self._lock:
                    self._name(
                        f"{username}:{password}", f"${username_variable}:${password_variable}"
                    )

    def _name(self, value: str, shell: str) -> None:
        """``value`` stands for ``shell`` in a reproduction (text that expands to it inside
        double quotes), and its other forms for what computes them from it with POSIX tools:
        base64 (Basic auth), percent-encoded (a query parameter), JSON-escaped (a body)."""
        self._named[value] = shell
        forms = {
            base64.b64encode(value.encode("utf-8")).decode("ascii"): "base64 | tr -d '\\n'",
            urllib.parse.quote(value, safe=""): PERCENT_ENCODED,
            urllib.parse.quote_plus(value): PERCENT_ENCODED,
            json.dumps(value)[1:-1]: JSON_ESCAPED,
        }
        for form, command in forms.items():
            self._named.setdefault(form, f'$(printf %s "{shell}" | {command})')
        self._named_ordered = None

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()
            self._named.clear()
            self._ordered = None
            self._named_ordered = None

    def _compiled(self, text: str) -> re.Pattern[str] | None:
        """The alternation of the forms that occur in ``text``, longest first (so a token's
        base64 goes before a shorter secret inside it); None when none does. Only those: one
        pattern of every form meant a compile after each new secret and, at each position of a
        text, a try of every form, and a test process registers thousands (a probe's request
        took 25 s at the end of ``make test``, 0.1 s alone)."""
        with self._lock:
            if self._ordered is None:
                self._ordered = tuple(sorted(self._forms, key=len, reverse=True))
            ordered = self._ordered
        return _alternation(ordered, text)

    def _names(self, text: str) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        """`_compiled` for the named forms, and what each stands for."""
        with self._lock:
            if self._named_ordered is None:
                self._named_ordered = tuple(sorted(self._named, key=len, reverse=True))
            ordered, named = self._named_ordered, dict(self._named)
        return _alternation(ordered, text), named

    def mask(self, text: str) -> str:
        pattern = self._compiled(text)
        if pattern is not None:
            text = pattern.sub(lambda m: masked(m.group(0)), text)
        text = JWT.sub(lambda m: masked(m.group(0), "JWT"), text)
        text = BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{masked(m.group(3))}", text)
        return SECRET_MEMBER.sub(_mask_member, text)

    def mask_data(self, value: Any) -> Any:
        """``mask`` over plain JSON data, member names kept; a secret-named member's string
        value is masked whatever it is."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {
                key: self._mask_named_member(item)
                if isinstance(item, str) and secret_member(key)
                else self.mask_data(item)
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.mask_data(item) for item in value]
        return value

    @staticmethod
    def _mask_named_member(value: str) -> str:
        return value if MASKED.fullmatch(value) or SHELL_TEXT.fullmatch(value) else masked(value)

    def reproduction(self, text: str) -> str:
        """A reproduction (curl lines, and the comments schemathesis puts around them) as it
        runs when pasted into a shell: each curl line's words quoted for the shell, the run's
        named credentials as their variables inside double quotes, every other secret masked
        (`mask`), and whatever of a credential header's value is not a named credential masked
        whatever its shape. A word in ANSI-C quotes (non-printable bytes) is masked as it
        is written, and a line whose quotes do not close as a whole."""
        return "\n".join(self._line(line) for line in text.split("\n"))

    def _line(self, line: str) -> str:
        words = _words(line) if line.lstrip().startswith("curl ") else None
        if words is None:
            return self.mask(line)
        indent = line[: len(line) - len(line.lstrip())]
        # a word in ANSI-C quotes (schemathesis's for non-printable bytes) stays as written
        return indent + " ".join(
            self.mask(word) if "$'" in word else self._word(shlex.split(word)[0]) for word in words
        )

    def _word(self, word: str) -> str:
        """One argument of a curl line, quoted for the shell (see `reproduction`)."""
        pattern, named = self._names(word)
        shells: list[str] = []

        def placeholder(found: re.Match[str]) -> str:
            shells.append(named[found.group(0)])
            return f"{HOLE}{len(shells) - 1}{HOLE}"

        template = pattern.sub(placeholder, word) if pattern is not None else word
        header = CREDENTIAL_HEADERS.match(template)
        if header is not None:
            value = _stranger(header.group(1).lower(), header.group(3))
            template = template[: header.start(3)] + value
        # (text, whether it is a variable's shell text), the literal text masked
        pieces = [
            (shells[int(text)], True) if index % 2 else (self.mask(text), False)
            for index, text in enumerate(template.split(HOLE))
        ]
        if not shells:
            return shlex.quote(pieces[0][0])
        pieces = _braced(pieces)
        return '"' + "".join(t if s else _double_quoted(t) for t, s in pieces) + '"'


#: a piece of a shell word: ANSI-C, single- or double-quoted text, an escaped character, or
#: one character of a bare word
SHELL_PIECE = re.compile(r"""\$'(?:[^'\\]|\\.)*'|'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^\s'"\\]""", re.S)


def _words(line: str) -> list[str] | None:
    """The shell words of ``line`` as written (quotes and all), None when a quote is not
    closed."""
    words: list[str] = []
    at, end = 0, len(line)
    while at < end:
        if line[at].isspace():
            at += 1
            continue
        start = at
        while at < end and not line[at].isspace():
            piece = SHELL_PIECE.match(line, at)
            if piece is None:
                return None
            at = piece.end()
        words.append(line[start:at])
    return words


#: stands around a named credential's index while a curl word is taken apart
HOLE = "\x00"


def _braced(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """``$NAME`` as ``${NAME}`` where the text after it would run into the name."""
    found = []
    for index, (text, is_shell) in enumerate(pieces):
        after = pieces[index + 1][0] if index + 1 < len(pieces) else ""
        if is_shell and VARIABLE.fullmatch(text) and re.match(r"\w", after):
            text = "${" + text.lstrip("$").strip("{}") + "}"
        found.append((text, is_shell))
    return found


def _stranger(header: str, value: str) -> str:
    """A credential header's value with every part that is not one of the run's named
    credentials (`HOLE`) masked: the scheme (``Bearer``, ``Token``) and the cookies' names
    stay."""
    if header == "cookie":
        crumbs = (part.strip().partition("=") for part in value.split(";") if part.strip())
        return "; ".join(
            f"{name}={_unless_named(crumb)}" if sep else _unless_named(name)
            for name, sep, crumb in crumbs
        )
    scheme, space, credential = value.partition(" ")
    if space and credential.strip():
        return f"{scheme} {_unless_named(credential.strip())}"
    return _unless_named(value)


def _unless_named(text: str) -> str:
    return text if HOLE in text or not text or MASKED.fullmatch(text) else masked(text)


#: the process's secrets
SECRETS = Masker()


def mask(text: str) -> str:
    return SECRETS.mask(text)


def register(*values: str | None, variable: str | None = None) -> None:
    """``values`` are secret; with ``variable``, each is what that environment variable holds
    (see `Masker.add`)."""
    SECRETS.add(*values, variable=variable)


def reproduction(text: str) -> str:
    """``text`` (a curl reproduction) as it runs when pasted, secrets masked
    (`Masker.reproduction`)."""
    return SECRETS.reproduction(text)


def registered_forms(values: Iterable[str]) -> set[str]:
    """Every form of ``values`` that must not appear in a report (for tests and audits)."""
    return {form for value in values for form in encodings(value)}
