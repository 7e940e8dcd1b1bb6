"""Broken authentication (OWASP API2), seen from outside on any spec: a login that tells which
users exist, a JWT signed with a key from a dictionary, and forged tokens a backend accepts.

    user enumeration   a login with a username that cannot exist and one with a wrong password
                       for a known user (a throwaway account the run makes, else the run's own
                       username; never another real user's) answer alike, in status and in body
                       once what varies per request is taken out (request ids, timestamps, the
                       usernames sent); the median of three each must not differ more than 5
                       times and 100 ms (a warning only: timing depends on the machine)
    weak JWT secret    the run's own token, an HS256/384/512 JWT, checked offline against a
                       dictionary of common secrets and the API's own names (no request at all)
    forged tokens      the run's token with ``alg: none``, with its signature stripped, and with
                       its payload changed (``exp`` past, ``sub`` another) under its own
                       signature: each refused (401 or 403) by a read that takes the token

Where the login is: the spec's ``x-auth-flow`` login step, else the login the config describes
(``[targets.<API>.login]``), else the run's scheme's OAuth2 password flow (its token URL, when
it is an operation of the spec); without one the login parts are skipped, saying why. Logging
in sends a POST: as ``auth_refresh`` is, the login parts are skipped in a read-only run; the
other parts only read. Only answers below the rate limit are compared: a 429 is waited out once
(its ``Retry-After``, within the probe's budget), else the part is skipped.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import Operation
from conformance.masking import register
from conformance.suite._access import login_place
from conformance.suite._auth import LoginPlace, _put, nobody_like
from conformance.suite._journal import Journal
from conformance.suite.scenarios._accounts import least_privileged_role, throwaway_accounts
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import ScenarioSkipped, StepSkipped, Story, scenario_rule

# the catalogue's rules judged here (`scenario_rule` checks each at import)
USER_ENUMERATION = scenario_rule("user-enumeration")
USER_ENUMERATION_TIMING = scenario_rule("user-enumeration-timing")
WEAK_JWT_SECRET = scenario_rule("weak-jwt-secret")
FORGED_TOKEN_401 = scenario_rule("forged-token-401")

#: logins of each kind (unknown user, wrong password) whose answer times are compared
TIMED = 3
#: a timing gap is a finding past both: the slower median this many times the faster …
TIMING_RATIO = 5.0
#: … and this many seconds more
TIMING_GAP_S = 0.1
#: secured reads tried with the run's token before the forged-token part gives up
READS_TRIED = 3

#: HMAC keys found in tutorials, defaults and leaked configurations (jwt-secrets lists: wallarm's
#: jwt.secrets.list, jwt_tool's common-passwords, the frameworks' samples)
COMMON_SECRETS: tuple[str, ...] = (
    "", "secret", "Secret", "SECRET", "secretkey", "secret_key", "secret-key", "secretKey",
    "SECRET_KEY", "SecretKey", "secret123", "secret1", "Secret123", "s3cr3t", "s3cret", "secr3t",
    "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret", "your_jwt_secret",
    "your-secret-key", "your_secret_key", "yoursecretkey", "jwt_secret", "jwt-secret",
    "jwtsecret", "JWT_SECRET", "jwtSecret", "jwt", "JWT", "jwt_key", "jwt-key", "jwtkey",
    "jwt-secret-key", "jwt_secret_key", "changeme", "change_me", "changeit", "changethis",
    "CHANGE_ME", "replaceme", "password", "Password", "password123", "passw0rd", "p@ssw0rd",
    "pass", "123456", "12345678", "1234567890", "1234", "12345", "111111", "000000", "key",
    "private", "privatekey", "private_key", "mysecret", "mysecretkey", "my_secret", "my-secret",
    "mykey", "supersecret", "super-secret", "super_secret", "supersecretkey", "mysupersecretkey",
    "Sup3rS3cr3t", "topsecret", "top_secret", "verysecret", "very_secret", "thisismysecret",
    "this_is_my_secret", "thisisasecret", "notsosecret", "test", "testing", "test123", "admin",
    "admin123", "root", "qwerty", "abc123", "letmein", "hello", "default", "default_secret",
    "dev", "development", "production", "prod", "token", "token_secret", "tokensecret", "auth",
    "auth_secret", "authsecret", "access_secret", "app_secret", "appsecret", "api_secret",
    "apisecret", "apikey", "api_key", "signing_key", "signingkey", "session_secret",
    "cookie_secret", "keyboard cat", "keyboardcat", "shhhhh", "shhhhhared-secret", "random",
    "insecure", "example", "sample", "demo", "foobar", "hs256", "HS256", "HMACSHA256",
    "django-insecure", "flask", "express", "nodejs", "spring", "laravel", "rails", "null",
    "undefined", "none", "a", "x", "xxx",
)  # fmt: skip
#: what is added to the API's own names to make candidates (``vault-secret``, ``vault_jwt``)
NAME_SUFFIXES = ("", "secret", "-secret", "_secret", "key", "-key", "_key", "jwt", "_jwt", "-jwt",
                 "_jwt_secret", "-jwt-secret", "123")  # fmt: skip
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

#: members of an error body that differ on every request, whatever the login said
VOLATILE = re.compile(
    r"(request|trace|correlation|span|error)[-_]?id|timestamp|time|date|instance|nonce", re.I
)
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


# -- where the login is ----------------------------------------------------------------------


def send_login(story: Story, place: LoginPlace, username: str, password: str) -> httpx.Response:
    """One login at ``place``, a 429 not waited out (the caller decides)."""
    body: dict[str, Any] = dict(place.fixed)
    _put(body, place.username, username)
    _put(body, place.password, password)
    if place.form:
        form = {key: str(value) for key, value in body.items()}
        return story.send(place.operation, form=form, retry_429=False)
    return story.send(place.operation, json_body=body, retry_429=False)


# -- the probe -------------------------------------------------------------------------------


@scenario(
    "authentication",
    kind="probe",
    requires="a login (`x-auth-flow`, `[targets.API.login]` or an OAuth2 password flow) for"
    " user enumeration; the run's token, a JWT, for the others",
    max_requests=40,
    max_seconds=40,
    waits=1,
    order=20,
    read_only=True,
)
def authentication(context: ScenarioContext, story: Story) -> None:
    """User enumeration (logins: not in a read-only run), then the run's own token: its key
    against the dictionary, and forgeries of it."""
    with story.part("user enumeration"):
        enumeration = Enumeration(context, story)
        enumeration.run()
    with story.part("user enumeration by timing"):
        enumeration.timing()
    token = context.run_token()
    with story.part("weak JWT secret"):
        weak_secret(context, story, token)
    with story.part("forged tokens"):
        forged_tokens(story, token)


@dataclass
class Logins:
    """The answers of the unknown user's and the known user's wrong-password logins."""

    unknown: list[httpx.Response] = field(default_factory=list)
    wrong: list[httpx.Response] = field(default_factory=list)


class Enumeration:
    """The user-enumeration parts: logins compared in body and status, then in time."""

    def __init__(self, context: ScenarioContext, story: Story) -> None:
        self.context, self.story = context, story
        self.logins: Logins | None = None
        #: why the timing part has nothing to judge (the first part's skip)
        self.skipped = ""

    def run(self) -> None:
        story = self.story
        try:
            with story.step("an unknown user and a wrong password answer alike"):
                self._compare()
        except StepSkipped as skip:
            self.skipped = str(skip)
            raise

    def _compare(self) -> None:
        context = self.context
        if context.read_only:
            raise StepSkipped(
                "read-only run: logging in sends a POST (auth_refresh is skipped there too)"
            )
        way = login_place(context.spec, context.url, context.credentials)
        if isinstance(way, str):
            raise StepSkipped(way)
        with self.known_user() as (username, how):
            unknown = nobody_like(context.spec, way.operation, way.username, username)
            wrong = "Wrong-" + secrets.token_urlsafe(12)
            register(wrong)
            logins = Logins()
            for _ in range(TIMED):  # interleaved: a slower moment of the machine hits both
                logins.unknown.append(self.login(way, unknown, wrong))
                logins.wrong.append(self.login(way, username, wrong))
            self.logins = logins
            # judged before the account is removed: the reproduction is the last login
            first, other = logins.unknown[0], logins.wrong[0]
            seen = comparable(first, (unknown, username)), comparable(other, (unknown, username))
            self.story.check(
                first.status_code == other.status_code and seen[0] == seen[1],
                USER_ENUMERATION,
                f"{way.operation.label} ({way.source}) answered a username that does not exist"
                f" {first.status_code} {_shown(seen[0])}, and a wrong password for {how}"
                f" {other.status_code} {_shown(seen[1])}: the answers tell which users exist",
            )

    @contextlib.contextmanager
    def known_user(self) -> Iterator[tuple[str, str]]:
        """A username that exists, and how the message names it: a throwaway account made
        through the x-auth-flow ``accounts`` step (removed after), else the run's own."""
        context, story = self.context, self.story
        flow = context.spec.declarations.auth_flow
        if flow is not None and flow.accounts is not None:
            journal = Journal(context.journal)
            with throwaway_accounts(story, flow, context.run_token(), journal) as accounts:
                if accounts.can_make:
                    try:
                        made = accounts.make(least_privileged_role(context.spec))
                    except ScenarioSkipped as skip:
                        raise StepSkipped(skip.reason) from None
                    yield made.username, "the run's throwaway account"
                    return
        credentials = context.credentials
        if credentials.username is None:
            raise StepSkipped(
                "no known user to try a wrong password for: the run has no username of its own"
                " and the spec no x-auth-flow accounts step (it never tries another user's)"
            )
        yield credentials.username, "the run's own account"

    def login(self, way: LoginPlace, username: str, password: str) -> httpx.Response:
        """One login below the rate limit: a 429 is waited out once, within the budget."""
        story = self.story
        response = send_login(story, way, username, password)
        if response.status_code != 429:
            return response
        wait = retry_after(response)
        if wait is None or wait > min(self.context.max_wait_s, story.remaining_s() - 5):
            raise StepSkipped(
                f"the login answered 429 (Retry-After {response.headers.get('Retry-After')!r}):"
                " answers over the rate limit are not compared"
            )
        story.sleep(wait + 0.2)
        response = send_login(story, way, username, password)
        if response.status_code == 429:
            raise StepSkipped("the login stayed rate limited (429) after its Retry-After")
        return response

    def timing(self) -> None:
        story = self.story
        title = "an unknown user's login takes as long as a wrong password's"
        with story.step(title):
            if self.logins is None:
                raise StepSkipped(self.skipped or "no logins to time")
            unknown = statistics.median(r.elapsed.total_seconds() for r in self.logins.unknown)
            wrong = statistics.median(r.elapsed.total_seconds() for r in self.logins.wrong)
            fast, slow = sorted((unknown, wrong))
            story.check(
                not (slow > TIMING_RATIO * fast and slow - fast > TIMING_GAP_S),
                USER_ENUMERATION_TIMING,
                f"logins of a username that does not exist took {unknown * 1000:.0f} ms (the"
                f" median of {TIMED}), with a wrong password for a known user"
                f" {wrong * 1000:.0f} ms: the time tells which users exist",
            )


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def comparable(response: httpx.Response, usernames: tuple[str, ...]) -> Any:
    """What is compared of a login's refusal: its body with the usernames sent, ids and times
    replaced, and the members that differ on every request (request ids, timestamps) left out."""
    text = response.text
    for name in usernames:
        text = text.replace(name, "<username>")
    text = TIME_TEXT.sub("<time>", UUID_TEXT.sub("<id>", text))
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    return _steady(body)


def _steady(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if not VOLATILE.fullmatch(str(k))}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def _shown(body: Any, most: int = 160) -> str:
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    return text if len(text) <= most else text[: most - 1] + "…"


# -- the run's own token -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Jwt:
    """A compact JWS as sent: its three parts, and its header and payload read."""

    header_text: str
    payload_text: str
    signature: str
    header: dict[str, Any]
    payload: dict[str, Any]

    @classmethod
    def read(cls, token: str | None) -> Jwt | None:
        """``token`` as a JWT; None when it is not one."""
        parts = (token or "").split(".")
        if len(parts) != 3:
            return None
        try:
            header, payload = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        except (ValueError, TypeError):
            return None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            return None
        return cls(parts[0], parts[1], parts[2], header, payload)

    @property
    def alg(self) -> str:
        return str(self.header.get("alg", ""))

    def signed_with(self, key: str) -> bool:
        """Whether its signature is the HMAC of ``key`` (HS256/384/512)."""
        digest = HASHES[self.alg]
        signing_input = f"{self.header_text}.{self.payload_text}".encode("ascii")
        try:
            signature = _unb64(self.signature)
        except ValueError:
            return False
        mac = hmac.new(key.encode("utf-8"), signing_input, digest).digest()
        return hmac.compare_digest(mac, signature)

    def forgeries(self) -> dict[str, str]:
        """Tokens made from it that a backend must refuse: unsigned, stripped, changed under
        its own signature."""
        header, payload, signature = self.header_text, self.payload_text, self.signature
        unsigned = _b64(json.dumps({**self.header, "alg": "none"}, separators=(",", ":")).encode())
        expired = self._with(exp=int(time.time()) - 3600)
        made = {
            "alg none and no signature": f"{unsigned}.{payload}.",
            "its signature stripped": f"{header}.{payload}.",
            "exp in the past, its signature kept": f"{header}.{expired}.{signature}",
        }
        if "sub" in self.payload:
            made["another sub, its signature kept"] = (
                f"{header}.{self._with(sub=_other(self.payload['sub']))}.{signature}"
            )
        return made

    def _with(self, **claims: Any) -> str:
        return _b64(json.dumps({**self.payload, **claims}, separators=(",", ":")).encode())


def _other(subject: Any) -> Any:
    """Another subject of the same type (an id one more, another UUID)."""
    if isinstance(subject, int):
        return subject + 1
    if isinstance(subject, str) and subject.isdigit():
        return str(int(subject) + 1)
    return str(uuid.uuid4())


def candidates(context: ScenarioContext) -> Iterator[str]:
    """The dictionary, then the API's own names with common endings."""
    yield from COMMON_SECRETS
    names = {context.api.lower(), context.spec.title.lower()}
    names |= {re.sub(r"[^a-z0-9]+", sep, name).strip(sep) for name in set(names) for sep in "-_"}
    names |= {name.replace("-", "") for name in set(names)}
    for name in sorted(n for n in names if n):
        for suffix in NAME_SUFFIXES:
            yield name + suffix


def weak_secret(context: ScenarioContext, story: Story, token: str | None) -> None:
    with story.step("the run's token is not signed with a common secret (checked offline)"):
        found = _hmac_jwt(token)
        story.last = None  # checked offline: no request reproduces it
        key = next((key for key in candidates(context) if found.signed_with(key)), None)
        story.check(
            key is None,
            WEAK_JWT_SECRET,
            f"the run's token ({found.alg}) is signed with a common secret of the dictionary"
            f" ({_described(key or '')}): anyone can sign tokens the API accepts",
        )


def _hmac_jwt(token: str | None) -> Jwt:
    if not token:
        raise StepSkipped("the run has no token of its own")
    found = Jwt.read(token)
    if found is None:
        raise StepSkipped("the run's token is not a JWT")
    if found.alg not in HASHES:
        raise StepSkipped(f"the run's token is signed with {found.alg or 'no alg'}, not HMAC")
    return found


def _described(key: str) -> str:
    """A key found, said without saying it: its length and first character."""
    if not key:
        return "an empty key"
    return f"{len(key)} characters, starting with {key[0]!r}"


def forged_tokens(story: Story, token: str | None) -> None:
    """Each forgery of the run's token is refused by a read the token itself may make."""
    if not token:
        with story.step("forged tokens are refused"):
            raise StepSkipped("the run has no token of its own")
    found = Jwt.read(token)
    if found is None:
        with story.step("forged tokens are refused"):
            raise StepSkipped("the run's token is not a JWT: nothing to forge from")
    with story.step("a secured read answers the run's token"):
        read = _secured_read(story, token)
    for what, forged in found.forgeries().items():
        register(forged)
        with story.step(f"the run's token with {what}: 401"):
            response = story.send(read, token=forged)
            # a 5xx refuses it too, badly: not_a_server_error tells of that (the answer is
            # judged by the response checks); only an answer that serves the forgery is this
            story.check(
                response.status_code in (401, 403) or not 200 <= response.status_code < 400,
                FORGED_TOKEN_401,
                f"{read.label} answered {response.status_code} to the run's token with {what}:"
                " the forgery was served",
            )


def _secured_read(story: Story, token: str) -> Operation:
    """A GET that needs credentials, takes no required parameter and answers the run's token
    with a 2xx (tried on at most `READS_TRIED`)."""
    tried: list[str] = []
    for operation in story.spec.operations:
        if len(tried) >= READS_TRIED:
            break
        if (
            operation.method != "get"
            or not operation.needs_credentials
            or operation.required_parameters
            or not story.presenter.asked_by(operation)
        ):
            continue
        response = story.send(operation, token=token)
        if 200 <= response.status_code < 300:
            return operation
        tried.append(f"{operation.label} {response.status_code}")
    raise StepSkipped(
        "no secured GET without required parameters answered the run's token with a 2xx"
        + (f" ({', '.join(tried)})" if tried else "")
    )
