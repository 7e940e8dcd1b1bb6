"""The scenario registry: every scenario once, registered by its module with `scenario`.

A scenario is one module with one decorated function, its play: ``(ScenarioContext, Story) ->
None``. The decorator names what the scenario requires from the spec (the words README's table
shows), the guards that skip it up front when the spec lacks a declaration, its budget in
requests and seconds, and its place in the run. Everything that lists scenarios reads this
registry: the plugin's items (one per API and scenario, in ``order``), `run_scenario`'s dispatch,
``NAMES`` and ``DATA``, the ``[scenarios]`` switches (the config loader is handed ``NAMES``), the
``scenario(name)`` marker's help, the package docstring's table and README's table (a test holds
README to the registry).

The security probes of a later issue register the same way, with a ``kind`` of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.contract import Spec
from conformance.suite._auth import Credentials
from conformance.suite._engine import Network
from conformance.suite._present import Presenter
from conformance.suite.scenarios._story import Story

#: the longest a scenario waits for a token to expire or a rate-limit window to end, by default
#: (``[scenarios] max_wait_s``)
MAX_WAIT_S = 65.0


@dataclass
class ScenarioContext:
    """What a scenario gets from the run."""

    api: str
    spec: Spec
    url: str
    credentials: Credentials = field(repr=False)
    network: Network
    #: the run's own access token (None: the run has none)
    run_token: Callable[[], str | None]
    journal: Path
    read_only: bool = False
    max_wait_s: float = MAX_WAIT_S
    #: operation label -> seconds of the 2xx answers the run has seen so far
    samples: Callable[[], Mapping[str, Sequence[float]]] = lambda: {}
    #: the spec is one of the project's own: a scenario skipped for a missing declaration fails
    own_spec: bool = False
    #: the run timeout (``time.time()``): no scenario's budget outlasts it
    deadline: float | None = None
    #: how the run's credential goes on a request (None: as a bearer, where the run has none)
    presenter: Presenter | None = None
    #: the target's data may be changed freely (``environment = "disposable"``): a probe may
    #: send its payloads into writes too
    disposable: bool = False


#: a scenario's play: the story told against one API
Play = Callable[[ScenarioContext, Story], None]
#: a check of the spec before the story starts: raises `ScenarioSkipped` (a missing declaration)
Guard = Callable[[Spec], None]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One registered scenario (or, later, probe): what `scenario` was told."""

    name: str
    play: Play
    #: what it requires from the spec, in README's words (markdown)
    requires: str
    max_requests: int
    #: seconds of its own, on top of ``waits`` times the run's ``max_wait_s``
    max_seconds: float
    #: its place among its kind on an API (lowest first)
    order: int
    #: how many times it may wait up to ``max_wait_s`` (a token's expiry, a window's end)
    waits: int = 0
    #: it makes, changes and removes resources of its own
    data: bool = False
    #: it runs in a read-only run (sending only reads there); the others are skipped
    read_only: bool = False
    #: checked in turn before its story starts
    guards: tuple[Guard, ...] = ()
    #: "scenario"; the security probes of a later issue will be "probe"
    kind: str = "scenario"
    #: the module that registered it
    module: str = ""

    def budget(self, max_wait_s: float, deadline: float | None = None) -> tuple[int, float]:
        """Its requests and seconds on one API; the seconds end at the run timeout (``deadline``,
        ``time.time()``)."""
        seconds = self.waits * max_wait_s + self.max_seconds
        if deadline is not None:
            seconds = max(0.0, min(seconds, deadline - time.time()))
        return self.max_requests, seconds


_REGISTRY: dict[str, Scenario] = {}


def scenario(
    name: str,
    *,
    requires: str,
    max_requests: int,
    max_seconds: float,
    order: int,
    waits: int = 0,
    data: bool = False,
    read_only: bool = False,
    guards: tuple[Guard, ...] = (),
    kind: str = "scenario",
) -> Callable[[Play], Play]:
    """Register the decorated play as the scenario ``name`` (a config key, a marker argument and
    part of a test id: an identifier). A name or a place taken twice is refused at import."""
    if not name.isidentifier():
        raise ValueError(f"scenario name {name!r} must be an identifier, e.g. rate_limits")

    def register(play: Play) -> Play:
        entry = Scenario(
            name, play, requires, max_requests, max_seconds, order, waits, data, read_only,
            guards, kind, play.__module__,
        )  # fmt: skip
        if name in _REGISTRY:
            raise ValueError(f"scenario {name!r} is registered twice: {_REGISTRY[name].module}")
        taken = [s.name for s in _REGISTRY.values() if s.kind == kind and s.order == order]
        if taken:
            raise ValueError(f"scenario {name!r}: order={order} is {taken[0]!r}'s already")
        _REGISTRY[name] = entry
        return play

    return register


def registered(kind: str = "scenario") -> tuple[Scenario, ...]:
    """The registered scenarios of ``kind``, in the order they run on an API."""
    return tuple(sorted((s for s in _REGISTRY.values() if s.kind == kind), key=lambda s: s.order))


def lookup(name: str) -> Scenario:
    """The scenario called ``name``; a `KeyError` naming the known ones for any other."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(_REGISTRY)}") from None


def table(kind: str = "scenario") -> str:
    """The registry as the package docstring shows it: name, module, what it requires."""
    entries = registered(kind)
    rows = [(e.name, e.module.rpartition(".")[2], e.requires.replace("`", "")) for e in entries]
    name = max((len(row[0]) for row in rows), default=0) + 2
    module = max((len(row[1]) for row in rows), default=0) + 2
    return "\n".join(f"    {n:<{name}}{m:<{module}}{r}" for n, m, r in rows)
