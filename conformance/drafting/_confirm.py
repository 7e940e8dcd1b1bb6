"""`conformance init --target`: the drafted auth flow tried once against the API. A login with
the configured credentials, then a refresh and a logout of that fresh session (never of anyone
else's): at most three requests, each bounded in seconds. Where a token is not where the spec
said, the answer's own member of that name is taken and the draft corrected. Nothing secret is
said: the lines name pointers and statuses, and every token and the password are registered
for masking all the same."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from conformance.contract import PointerError, Spec, follow, join
from conformance.drafting._model import Draft
from conformance.drafting._words import ACCESS_TOKENS, LIFETIMES, REFRESH_TOKENS, folded
from conformance.masking import mask, register

#: seconds each request may take
TIMEOUT_S = 10.0

WANTED = {
    "access_token": ACCESS_TOKENS,
    "refresh_token": REFRESH_TOKENS,
    "expires_in": LIFETIMES,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """Whom to log in as (from the environment or the credentials file, never flags)."""

    username: str
    password: str = dataclasses.field(repr=False)
    #: how the user gave them: ``CONFORMANCE_BLOG_USERNAME and _PASSWORD``
    source: str


def confirmed(draft: Draft, spec: Spec, url: str, login: Login | None, hint: str) -> Draft:
    """``draft`` with its auth flow tried against ``url`` (the API's base URL): what the calls
    said in `Draft.confirmed`, pointers corrected by the real answers. ``hint``: how to give
    credentials, said when there are none."""
    index = next((i for i, a in enumerate(draft.actions) if a.extension == "x-auth-flow"), None)
    if index is None:
        return dataclasses.replace(draft, confirmed=("no login was drafted: nothing to confirm",))
    if login is None:
        return dataclasses.replace(
            draft, confirmed=(f"the login is not confirmed: {hint} to try it against {url}",)
        )
    register(login.password)
    action = draft.actions[index]
    trial = _Trial(spec, url.rstrip("/"), _copied(action.value))
    lines = [mask(line) for line in trial.run(login)]
    value = trial.flow
    why = action.why + ("; confirmed against the API" if trial.confirmed else "")
    actions = list(draft.actions)
    actions[index] = dataclasses.replace(action, value=value, why=why)
    return dataclasses.replace(draft, actions=tuple(actions), confirmed=tuple(lines))


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied(member) for key, member in value.items()}
    return value


class _Trial:
    """One login, refresh and logout through the drafted flow; what each said, in `lines`."""

    def __init__(self, spec: Spec, url: str, flow: dict[str, Any]) -> None:
        self.spec, self.url, self.flow = spec, url, flow
        self.confirmed = False
        self.lines: list[str] = []

    def run(self, login: Login) -> list[str]:
        step = self.flow["login"]
        operation = self.spec.operation(step["operation"])
        if operation is None:
            return [f"the login {step['operation']} is not in the spec"]
        body: dict[str, Any] = {}
        _put(body, step["username"], login.username)
        _put(body, step["password"], login.password)
        target = self.url + operation.path
        answer = self._send("login", operation.method, target, json=body)
        if answer is None:
            return self.lines
        if not 200 <= answer.status_code < 300:
            self.lines.append(
                f"login at {target} answered {answer.status_code}: the login is not confirmed;"
                f" check {login.source}, and that {self.url} is the API's base URL"
            )
            return self.lines
        tokens = self._read("login", step, answer)
        self.confirmed = "access_token" in tokens
        if tokens.get("refresh_token") and "refresh" in self.flow:
            tokens = self._refresh(tokens)
        if "logout" in self.flow and tokens.get("access_token"):
            self._logout(str(tokens["access_token"]))
        return self.lines

    def _send(self, name: str, method: str, target: str, **arguments: Any) -> httpx.Response | None:
        try:
            with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
                return client.request(method.upper(), target, **arguments)
        except httpx.HTTPError as error:
            self.lines.append(f"{name} at {target} failed ({type(error).__name__}): not confirmed")
            return None

    def _read(self, name: str, step: dict[str, Any], answer: httpx.Response) -> dict[str, Any]:
        """The tokens of an answer at the step's pointers; a pointer that finds nothing is
        replaced by the answer's own member of that name, where it has one."""
        try:
            body = answer.json()
        except ValueError:
            self.lines.append(f"{name} answered {answer.status_code} without a JSON body")
            return {}
        tokens: dict[str, Any] = {}
        said = []
        for field, names in WANTED.items():
            words = field.replace("_", " ")
            pointer = step.get(field)
            value = _at(body, pointer)
            if value is None:
                found = _member(body, names)
                if found is None:
                    said.append(f"no {words}")
                    continue
                pointer, value = found
                said.append(f"{words} at {pointer} (corrected: the spec said {step.get(field)})")
                step[field] = pointer
            else:
                said.append(f"{words} at {pointer}")
            tokens[field] = value
        register(*(str(v) for k, v in tokens.items() if k != "expires_in"))
        self.lines.append(f"{name} answered {answer.status_code}: " + ", ".join(said))
        return tokens

    def _refresh(self, tokens: dict[str, Any]) -> dict[str, Any]:
        step = self.flow["refresh"]
        operation = self.spec.operation(step["operation"])
        if operation is None:
            return tokens
        refresh = str(tokens["refresh_token"])
        arguments: dict[str, Any] = {}
        if step.get("token_in") == "bearer":
            arguments["headers"] = {"Authorization": f"Bearer {refresh}"}
        else:
            body: dict[str, Any] = {}
            _put(body, step.get("token_field", "/refreshToken"), refresh)
            arguments["json"] = body
        target = self.url + operation.path
        answer = self._send("refresh", operation.method, target, **arguments)
        if answer is None:
            return tokens
        if not 200 <= answer.status_code < 300:
            self.lines.append(f"refresh at {target} answered {answer.status_code}: not confirmed")
            return tokens
        renewed = self._read("refresh", step, answer)
        return {**tokens, **{key: value for key, value in renewed.items() if value}}

    def _logout(self, access: str) -> None:
        operation = self.spec.operation(self.flow["logout"]["operation"])
        if operation is None:
            return
        target = self.url + operation.path
        headers = {"Authorization": f"Bearer {access}"}
        answer = self._send("logout", operation.method, target, headers=headers)
        if answer is not None:
            outcome = "confirmed" if 200 <= answer.status_code < 300 else "not confirmed"
            self.lines.append(f"logout answered {answer.status_code}: {outcome}")


def _at(body: Any, pointer: str | None) -> Any:
    if not pointer:
        return None
    try:
        value = follow(body, pointer)
    except (PointerError, ValueError):
        return None
    return None if value in (None, "") or isinstance(value, (dict, list)) else value


def _member(body: Any, names: tuple[str, ...], pointer: str = "", depth: int = 4) -> Any:
    """``(pointer, value)`` of the answer's member named by the best of ``names``, shallowest
    first; None where it has none."""
    level: list[tuple[str, Any]] = [(pointer, body)]
    for _ in range(depth):
        found: dict[str, tuple[str, Any]] = {}
        deeper: list[tuple[str, Any]] = []
        for where, node in level:
            if not isinstance(node, dict):
                continue
            for key, value in node.items():
                if isinstance(value, dict):
                    deeper.append((join(where, key), value))
                elif value not in (None, "") and not isinstance(value, list):
                    found.setdefault(folded(str(key)), (join(where, key), value))
        for name in names:
            if name in found:
                return found[name]
        level = deeper
    return None


def _put(body: dict[str, Any], pointer: str, value: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        body = body.setdefault(part, {})
    body[parts[-1]] = value
