"""Secrets never leave a run: masked by value in everything it writes or prints.

The run registers what it knows to be secret (passwords, static tokens, every token a login or
refresh of its own hands back) in `SECRETS`; `mask` replaces each of them, also base64-, URL-
and JSON-encoded, wherever it appears. Tokens the run never saw itself (those a fuzzed login
hands back, or one a backend echoes) are caught by shape: JWTs, ``Bearer`` credentials, and the
values of JSON members named like ``accessToken`` or ``password``. Header names alone are not
enough: a backend may echo a token in a body, a message may quote a request.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

MASK = "[masked]"
#: shorter values are not masked (they would mask ordinary text)
SHORTEST = 4

#: a JWT (``alg: none`` ones have an empty signature)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: a credential after its scheme (not a challenge's parameters: ``Bearer error="…"``)
BEARER = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?!\[masked\]|(?:realm|error|error_description|error_uri|scope)\s*=)"
    r"[A-Za-z0-9._~+/=-]{4,}"
)
#: JSON members (also as they appear escaped inside another JSON string) whose values are secret
SECRET_MEMBER = re.compile(
    r"""(?ix)
    ( (?:\\?")
      (?:access_?token|refresh_?token|id_?token|token|password|new_?password|current_?password
         |secret|client_?secret|api_?key)
      (?:\\?") \s* : \s* (?:\\?") )
    ( (?:[^"\\]|\\[^"])* )
    ( \\?" )
    """
)


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


class Masker:
    """The run's secrets (thread-safe: the engine's auth runs in its worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= SHORTEST:
                    self._forms |= encodings(value)
            self._pattern = None

    def add_basic(self, username: str | None, password: str | None) -> None:
        """An account's password, and the ``user:password`` pair as Basic auth encodes it."""
        self.add(password)
        if username and password:
            self.add(f"{username}:{password}")

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._forms:
                # longest first, so a token's base64 goes before a shorter secret inside it
                ordered = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(form) for form in ordered))
            return self._pattern

    def mask(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = JWT.sub(MASK, text)
        text = BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        return SECRET_MEMBER.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)

    def mask_data(self, value: Any) -> Any:
        """``mask`` over plain JSON data, member names kept; a secret-named member's string
        value is masked whatever it is."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {
                key: MASK
                if isinstance(item, str) and SECRET_MEMBER.fullmatch(f'"{key}":"x"')
                else self.mask_data(item)
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.mask_data(item) for item in value]
        return value


#: the process's secrets
SECRETS = Masker()


def mask(text: str) -> str:
    return SECRETS.mask(text)


def register(*values: str | None) -> None:
    SECRETS.add(*values)


def registered_forms(values: Iterable[str]) -> set[str]:
    """Every form of ``values`` that must not appear in a report (for tests and audits)."""
    return {form for value in values for form in encodings(value)}
