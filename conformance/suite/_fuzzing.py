"""The fuzzing of one API: the engine's first pass over the selected operations (`_engine`), the
reach for the error answers it did not see (`_reach`), then focused stateful passes for the
operations still without a 2xx. Above both modules it runs, so that neither imports the other
back (ARCHITECTURE.md, "How the suite drives schemathesis", points 2 and 8).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from schemathesis.config import SchemathesisConfig

from conformance.contract import Spec
from conformance.suite._engine import (
    DEFAULT_NETWORK,
    PROFILES,
    STOPPING,
    EngineRun,
    Network,
    OperationRecord,
    engine_config,
    engine_settings,
    run_pass,
)
from conformance.suite._reach import reach

#: how many links back a focused pass follows (school -> department -> position -> its delete)
LINK_DEPTH = 3
#: focused passes in a row that bring no operation its first 2xx before the passes stop
BARREN_PASSES = 2
#: a profile whose first pass is a smaller profile's, at the same seed (its findings kept),
#: before its own at the seed plus `DEEP_SEED_STEP`
SMALLER_FIRST = {"deep": "gate"}
DEEP_SEED_STEP = 1_000


def link_sources(spec: Spec, targets: Iterable[str]) -> set[str]:
    """The operations whose responses link to one of ``targets`` (operationIds)."""
    wanted = set(targets)
    return {str(source.operation_id) for source, target in spec.links() if target in wanted}


def run_engine(
    api: str,
    spec: Spec,
    url: str,
    headers: Mapping[str, str],
    operation_ids: Iterable[str],
    *,
    profile: str = "gate",
    seed: int = 0,
    prepare: Callable[[Any], AbstractContextManager[None]] | None = None,
    progress: Callable[[str], None] = lambda line: None,
    evidence: Iterable[tuple[str, int, float]] = (),
    network: Network = DEFAULT_NETWORK,
    read_only: bool = False,
    fail_fast: bool = False,
    deadline: float | None = None,
    persist: bool = False,
    shut_out: Callable[[], set[str]] = set,
    credential: Mapping[str, str] | None = None,
    accepted: Callable[[], Mapping[str, tuple[Mapping[str, str], Any]]] = dict,
    held: Callable[[], Mapping[str, Sequence[str]]] = dict,
    disposable: bool = False,
) -> EngineRun:
    """Run the engine over ``operation_ids`` of ``spec`` at ``url``; a record per operation.
    ``evidence``: calls the run made itself (operation id, status, seconds), counted first.
    ``prepare(schema)``: what the run adds to each schema the engine runs (auth, the guard's
    hooks), as a context around the engine's run. ``fail_fast``: stop at the first failure.
    ``deadline`` (``time.time()``): the run timeout; the engine is stopped there as schemathesis
    stops itself (its last events still come), and the run says it was cut short.
    ``persist``: the gate fails an operation never answered with a 2xx (``x-contract: strict``,
    ``--require-exercised``), so the focused passes go on to the profile's number even when
    some bring nothing new; elsewhere they stop after `BARREN_PASSES` barren ones.
    ``shut_out()``: the operations the guard keeps from any 2xx on a shared target, for which a
    focused pass would only repeat 404s. ``accepted()``: the guard's last body each create
    answered 2xx for, which the reach sends again (`_reach`, "duplicate"); ``held()``: values
    other items hold in the creates' free-text members (`_reach`, "taken"), sent there on a shared
    target only after the API refused a repeated key (``disposable``: always). ``credential``:
    where the session's auth puts the run's credential (`engine_settings`)."""
    settle_heap()
    wanted = sorted(set(operation_ids))
    run = EngineRun(api, seed, _records(spec, wanted, evidence))
    infer = next(spec.links(), None) is None  # a spec that declares no links of its own

    def config(seed: int, stateful_only: bool = False, budget: str = profile) -> SchemathesisConfig:
        return engine_config(
            engine_settings(
                url,
                headers,
                budget,
                seed,
                stateful_only=stateful_only,
                infer_links=infer,
                network=network,
                read_only=read_only,
                fail_fast=fail_fast,
                credential=credential,
            )
        )

    # A larger budget must not lose what a smaller one finds: hypothesis draws other cases at
    # another example count, so `deep` first runs gate's pass at the same seed (its findings
    # exactly), then its own, larger one at another seed (issue 25: a deep run missed the 500
    # that gate found on a third-party API).
    smaller = SMALLER_FIRST.get(profile, profile)
    first = config(seed, budget=smaller)
    patience = PROFILES[profile]["patience"]
    run_pass(run, spec, first, wanted, prepare, progress, deadline, PROFILES[smaller]["patience"])
    if profile in SMALLER_FIRST and not (fail_fast and _failed(run)):
        progress(f"{api}: the {profile} pass (seed {seed + DEEP_SEED_STEP})")
        larger = config(seed + DEEP_SEED_STEP)
        run_pass(run, spec, larger, wanted, prepare, progress, deadline, patience)
    # Every documented error answer of a path parameter (404 for an absent id, 400/422 for a
    # malformed one) that the first pass did not see, earned by one request (`_reach`).
    reach(run, spec, first, wanted, prepare, progress, seed=seed, read_only=read_only,
          fail_fast=fail_fast, deadline=deadline, accepted=accepted(), held=held(),
          disposable=disposable)  # fmt: skip
    # A create that needs an id from another resource is reached by the stateful phase only,
    # whose scenarios the whole API shares: stateful passes (a few at most, each with its own
    # seed) over just the operations not yet answered with a 2xx and those whose links lead to
    # them, up to ``LINK_DEPTH`` links back.
    # A pass that brings no operation its first 2xx is likely followed by another that brings
    # none (an operation the account may not call, a login with other credentials): after
    # `BARREN_PASSES` of them in a row the passes stop (issue 25: ten passes of nothing on a
    # third-party API), unless a missing 2xx fails the gate (``persist``: gloria's
    # updateWorkflowInstance needed a fourth pass after two barren ones at seed 2).
    barren, before = 0, len(_without_2xx(run))
    for attempt in range(1, PROFILES[profile]["focused_passes"] + 1):
        if STOPPING.is_set():
            raise KeyboardInterrupt
        if fail_fast and _failed(run):
            break  # the verdict is in
        if run.cut_short:
            break
        missing = [operation for operation in _without_2xx(run) if operation not in shut_out()]
        if not missing:
            break
        barren = barren + 1 if attempt > 1 and len(missing) >= before else 0
        before = len(missing)
        if barren >= BARREN_PASSES and not persist:
            progress(f"{api}: no stateful pass brought a first 2xx after {attempt - 1}: done")
            break
        sources = set(missing)
        for _ in range(LINK_DEPTH):
            sources |= link_sources(spec, sources)
        sources &= set(wanted)
        progress(f"{api}: stateful pass {attempt} for {', '.join(sorted(missing))}")
        focused = config(seed + attempt, stateful_only=True)
        run_pass(run, spec, focused, sorted(sources), prepare, progress, deadline, patience)
    return run


#: the collections of the youngest generation after which the collector walks the whole heap
#: (Python's default is 10): `settle_heap`
FULL_COLLECTION_EVERY = 100


@functools.cache
def settle_heap() -> None:
    """Once a process, as its first engine starts: what is alive then (the modules, the spec,
    the session) lives as long as the process, so it is moved out of the collector's sight
    (``gc.freeze``), and the full collections the engine's garbage sets off no longer walk it
    again each time (0.53 s of collection fell to 0.17 s in a 9 s run of a small API).

    The heap is then walked whole a tenth as often (`FULL_COLLECTION_EVERY`): what the engine
    keeps (hypothesis's trees, schemathesis's strategies and response pool) grows through the
    run, and each full walk of it took 20 ms; ten of them were 0.2 s of the zoo tracker's 9 s
    run at seed 2, one after this, and the most memory the run held went from 119 to 131 MB.
    The younger generations are collected as before: most of the engine's garbage dies there."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _failed(run: EngineRun) -> bool:
    return any(record.failures for record in run.records.values())


def _records(
    spec: Spec, wanted: list[str], evidence: Iterable[tuple[str, int, float]]
) -> dict[str, OperationRecord]:
    """A record per operation in ``wanted``, the run's own calls (``evidence``) counted first."""
    by_label = {op.label: op for op in spec.operations if op.operation_id in wanted}
    records = {
        label: OperationRecord(label, str(op.operation_id)) for label, op in by_label.items()
    }
    by_id = {record.operation_id: record for record in records.values()}
    for operation_id, status, seconds in evidence:
        if operation_id in by_id:
            by_id[operation_id].statuses[status] += 1
            by_id[operation_id].latencies.append((status, seconds))
    return records


def _without_2xx(run: EngineRun) -> list[str]:
    """The operations no 2xx has come back for yet."""
    return [
        record.operation_id
        for record in run.records.values()
        if not any(200 <= status < 300 for status in record.statuses)
    ]
