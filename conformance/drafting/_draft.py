"""Drafting the overlay of one spec: each part of the inference in turn, then the draft checked
the way a run will read it (applied as an overlay, its declarations held to their schemas and
to the spec); what does not hold becomes a `Gap`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conformance.contract import (
    DeclarationProblem,
    OverlayProblem,
    Spec,
    apply_overlay,
    read_overlay,
    read_spec,
)
from conformance.drafting._auth import read_auth, roles
from conformance.drafting._budgets import budgets
from conformance.drafting._kinds import notes, owners, references, transitions, unique
from conformance.drafting._model import Action, Draft, Gap
from conformance.drafting._reading import Kinds

OVERLAY_VERSION = "1.0.0"
#: the root declarations init drafts (where the spec makes one, it is kept)
ROOT_DRAFTED = ("x-auth-flow", "x-roles", "x-latency-budget-ms")


def draft(spec: Spec) -> Draft:
    """The overlay of declarations ``spec`` lacks, as far as its paths, schemas and security
    show them; checked against the spec (`checked`)."""
    actions: list[Action] = []
    gaps: list[Gap] = []
    kept = [f"{name} (the root)" for name in ROOT_DRAFTED if name in spec.data]
    reading = read_auth(spec)
    if "x-auth-flow" not in spec.data:
        gaps += reading.gaps
        if reading.flow is not None:
            actions.append(Action("", "x-auth-flow", reading.flow, "; ".join(reading.why)))
    found = roles(spec, reading)
    if "x-roles" not in spec.data and found is not None:
        ordered, source = found
        actions.append(
            Action(
                "",
                "x-roles",
                ordered,
                f"the values of {source}, the least privileged first: the suite's throwaway"
                " accounts take the role the fewest operations allow, the first while no"
                " operation declares its own",
            )
        )
    actions += budgets(spec)
    kinds = Kinds.read(spec, reading.account_kind)
    linked = references(spec, kinds)
    parts = [linked, unique(spec, kinds, linked.named), owners(spec, kinds)]
    for part in parts:
        actions += part.actions
        gaps += part.gaps
        kept += part.kept
    lines, unversioned = notes(spec, kinds)
    gaps += unversioned + transitions(spec, kinds) + _undeclared(spec)
    actions, refused = checked(spec, actions)
    return Draft(
        spec=spec.path,
        title=spec.title,
        actions=tuple(_ordered(actions)),
        gaps=tuple(refused + gaps),
        notes=tuple(lines),
        kept=tuple(kept),
    )


def _undeclared(spec: Spec) -> list[Gap]:
    """What a plain spec never says: who may call each operation, the rate limits, and whether
    every house rule holds (``x-contract: strict``, left out on purpose)."""
    found = []
    if not any("x-roles" in operation.definition for operation in spec.operations):
        found.append(
            Gap(
                "x-roles",
                "x-roles of each operation: who may call it is not in the spec (security says"
                " only that credentials are needed); declare them for the authorisation"
                " scenario and the 403 of rollback",
            )
        )
    if "x-rate-limit" not in spec.data:
        found.append(
            Gap(
                "x-rate-limit",
                "x-rate-limit: the limits are the deployment's; declare {limit, window_s} (and"
                " the login's own) for the rate_limits scenario (an answer's X-RateLimit-Limit"
                " says the number)",
            )
        )
    if "x-contract" not in spec.data:
        found.append(
            Gap(
                "x-contract",
                "x-contract: strict is left out: it holds every operation to every house rule"
                " of the contract (the ApiResponse envelope, X-Request-ID, rate-limit headers"
                " …) even where the spec does not declare them, which a published spec rarely"
                " meets; without it each rule applies where the spec declares what it checks",
                Action("", "x-contract", "strict", "the API follows the whole contract"),
            )
        )
    return found


def _ordered(actions: Iterable[Action]) -> list[Action]:
    """The root's declarations, then the operations', then the schemas', each in the spec's
    order (how a reader finds them)."""

    def place(action: Action) -> int:
        if not action.pointer:
            return 0
        return 1 if action.pointer.startswith("/paths") else 2

    return sorted(actions, key=place)


# -- checking ------------------------------------------------------------------------------------


def overlay_data(spec: Spec, actions: Iterable[Action]) -> dict[str, Any]:
    """The Overlay 1.0 document of ``actions``, as plain data."""
    return {
        "overlay": OVERLAY_VERSION,
        "info": {"title": f"Contract declarations for {spec.title}", "version": "0.1.0"},
        "actions": [
            {
                "target": action.target,
                "description": action.why,
                "update": {action.extension: action.value},
            }
            for action in actions
        ],
    }


def checked(spec: Spec, actions: list[Action]) -> tuple[list[Action], list[Gap]]:
    """``actions`` that apply to ``spec`` and give well-formed declarations that name what
    exists; each other one becomes a gap saying why (the run would refuse the spec with it)."""
    refused: list[Gap] = []
    for _ in range(3):  # dropping an action cannot make another wrong; a guard all the same
        if not actions:
            break
        overlay = read_overlay(overlay_data(spec, actions), "<draft>")
        document, problems = apply_overlay(spec.document, overlay)
        declared = read_spec(document).declaration_problems
        wrong = _blamed(actions, problems, declared)
        if not wrong:
            break
        for index, message in sorted(wrong.items()):
            action = actions[index]
            refused.append(Gap(action.extension, f"{action.extension} not drafted: {message}"))
        actions = [action for index, action in enumerate(actions) if index not in wrong]
    return actions, refused


def _blamed(
    actions: list[Action],
    problems: Iterable[OverlayProblem],
    declared: Iterable[DeclarationProblem],
) -> dict[int, str]:
    """action index -> what is wrong with it: its overlay problems, and the declaration problems
    inside what it wrote."""
    wrong: dict[int, str] = {}
    for problem in problems:
        index = int(problem.pointer.split("/")[2])
        wrong.setdefault(index, problem.message)
    for found in declared:
        for index, action in enumerate(actions):
            written = f"{action.pointer}/{action.extension}"
            if found.pointer == written or found.pointer.startswith(written + "/"):
                wrong.setdefault(index, f"{found.message} ({found.pointer})")
    return wrong
