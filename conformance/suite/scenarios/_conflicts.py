"""409 conflicts: what stops lost updates and duplicates (CONTRACT.md §5).

For every kind the rollback scenario changes: two clients that read the same version (the
second writer gets 409 ``VERSION_CONFLICT`` with ``details.currentVersion``, refetches, retries
and succeeds); N concurrent updates from one version (exactly one succeeds, the rest are 409,
the winner's state stays); ``If-Match`` and a body ``version`` that disagree (400); a ``DELETE``
with a stale ``If-Match`` (409, and the resource stays), then with the current one (204, and
a GET is 404 from then on). For every ``x-unique`` key of a kind
that can be created: a create and an update that take another resource's key are 409
``DUPLICATE`` and create or change nothing.
"""

from __future__ import annotations

import concurrent.futures

from conformance.contract import Resource
from conformance.suite._unique import unique_groups
from conformance.suite.scenarios._changes import Changes, cast, details
from conformance.suite.scenarios._makers import Actor, Maker, item_schema, payload
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._rollback import targets
from conformance.suite.scenarios._story import ScenarioSkipped, Story, error_code, scenario_rule

# the catalogue's rules judged here (`scenario_rule` checks each at import)
CONVERGES = scenario_rule("converges")
STALE_409 = scenario_rule("stale-409")
ONE_OF_CONCURRENT = scenario_rule("one-of-concurrent")
IF_MATCH_DISAGREES_400 = scenario_rule("if-match-disagrees-400")
STALE_DELETE_409 = scenario_rule("stale-delete-409")
DELETED_404 = scenario_rule("deleted-404")
DUPLICATE_409 = scenario_rule("duplicate-409")

#: concurrent updates from one version
CONCURRENT_UPDATES = 4
MAX_REQUESTS = 1500


@scenario(
    "conflicts",
    requires="resources with a `version`, `x-unique`",
    max_requests=MAX_REQUESTS,
    max_seconds=300,
    waits=2,
    data=True,
    order=40,
)
def conflicts(context: ScenarioContext, story: Story) -> None:
    """The story on the kinds the rollback scenario changes, as the run's own principal."""
    with cast(context, story) as players:
        Conflicts(story, players.maker, players.run).run_all()


class Conflicts:
    name = "conflicts"

    def __init__(self, story: Story, maker: Maker, run: Actor) -> None:
        self.story, self.maker, self.run = story, maker, run
        self.changes = Changes(story, maker, run)

    def run_all(self) -> None:
        found = targets(self.maker)
        unique = [
            resource
            for resource in self.maker.by_kind.values()
            if resource.create
            and unique_groups(self.story.spec, item_schema(self.story.spec, resource))
        ]
        if not found and not unique:
            raise ScenarioSkipped("no resource kind has a version or an x-unique key to test")
        for resource in found:
            kind = resource.schema_name
            with self.story.part(f"{kind}: a lost update between two clients"):
                self.lost_update(resource)
            with self.story.part(f"{kind}: {CONCURRENT_UPDATES} concurrent updates"):
                self.concurrent(resource)
            if self.changes.takes_version(resource):
                with self.story.part(f"{kind}: If-Match and version disagree"):
                    self.disagreeing(resource)
            if resource.delete is not None:
                with self.story.part(f"{kind}: a DELETE with a stale If-Match"):
                    self.stale_delete(resource)
        for resource in unique:
            for group in unique_groups(self.story.spec, item_schema(self.story.spec, resource)):
                with self.story.part(f"{resource.schema_name}: a duplicate {' and '.join(group)}"):
                    self.duplicate(resource, group)

    def lost_update(self, resource: Resource) -> None:
        story, changes = self.story, self.changes
        kind = str(resource.schema_name)
        with story.step(f"{kind}: clients A and B read the same version"):
            made = self.maker.make(kind)
            seen_by_a, seen_by_b = changes.read(made), changes.read(made)
            version = seen_by_a.number()
        with story.step(f"{kind}: client A changes it from version {version}"):
            mine = changes.optimistic(made, seen_by_a, "Client A")
            first = changes.change(made, mine, if_match=version)
            story.check(
                200 <= first.status_code < 300,
                CONVERGES,
                f"A's change of {kind} {made.id} answered {first.status_code}",
            )
        theirs = changes.optimistic(made, seen_by_b, "Client B")
        with story.step(
            f"{kind}: client B, from the same version {version}, gets 409 VERSION_CONFLICT"
            " with details.currentVersion"
        ):
            second = changes.change(made, theirs, if_match=version)
            changes.error(
                second,
                409,
                "VERSION_CONFLICT",
                STALE_409,
                f"B's change of {kind} {made.id} from a stale version",
            )
            current = details(second).get("currentVersion")
            story.check(
                current == version + 1,
                STALE_409,
                f"the 409 on {kind} {made.id} says currentVersion {current!r}, not {version + 1}",
            )
        with story.step(
            f"{kind}: client B refetches, retries from the current version and succeeds"
        ):
            fresh = changes.read(made)
            name, _ = changes.field(made)
            story.check(
                fresh.data.get(name) == mine[name],
                STALE_409,
                f"{kind} {made.id} holds {name}={fresh.data.get(name)!r}, not A's change",
            )
            again = changes.optimistic(made, fresh, "Client B")  # B's change, on the fresh copy
            retried = changes.change(made, again, if_match=fresh.number())
            changes.converged(made, again, retried, fresh.number())

    def concurrent(self, resource: Resource) -> None:
        story, changes = self.story, self.changes
        kind = str(resource.schema_name)
        made = self.maker.make(kind)
        snapshot = changes.read(made)
        version = snapshot.number()
        name, _ = changes.field(made)
        locals_ = [
            changes.optimistic(made, snapshot, f"Writer {n}") for n in range(CONCURRENT_UPDATES)
        ]
        with story.step(
            f"{kind}: {CONCURRENT_UPDATES} updates from version {version} at once: exactly one"
            " succeeds, the others are 409"
        ):
            with concurrent.futures.ThreadPoolExecutor(CONCURRENT_UPDATES) as pool:
                answers = list(
                    pool.map(lambda local: changes.change(made, local, if_match=version), locals_)
                )
            statuses = [answer.status_code for answer in answers]
            winners = [n for n, answer in enumerate(answers) if 200 <= answer.status_code < 300]
            story.check(
                len(winners) == 1
                and all(
                    error_code(answer) == "VERSION_CONFLICT"
                    for n, answer in enumerate(answers)
                    if n not in winners
                ),
                ONE_OF_CONCURRENT,
                f"{CONCURRENT_UPDATES} concurrent updates of {kind} {made.id} from version"
                f" {version} answered {statuses}",
            )
        with story.step(f"{kind}: the stored state is the winner's, version + 1"):
            stored = changes.read(made)
            winner = locals_[winners[0]]
            story.check(
                stored.data.get(name) == winner[name] and stored.version == version + 1,
                ONE_OF_CONCURRENT,
                f"{kind} {made.id} holds {name}={stored.data.get(name)!r} at version"
                f" {stored.version!r}, not the winner's {winner[name]!r} at {version + 1}",
            )

    def disagreeing(self, resource: Resource) -> None:
        story, changes = self.story, self.changes
        kind = str(resource.schema_name)
        made = self.maker.make(kind)
        snapshot = changes.read(made)
        version = snapshot.number()
        with story.step(f"{kind}: If-Match {version} with a body version {version + 1} is 400"):
            local = changes.optimistic(made, snapshot, "Disagreeing")
            response = changes.change(made, local, if_match=version, version=version + 1)
            changes.error(
                response,
                400,
                "VALIDATION_FAILED",
                IF_MATCH_DISAGREES_400,
                f"a change of {kind} {made.id} with disagreeing versions",
            )
        with story.step(f"{kind}: and nothing changed"):
            changes.unchanged(made, snapshot, "disagreeing versions")

    def stale_delete(self, resource: Resource) -> None:
        story, changes = self.story, self.changes
        kind = str(resource.schema_name)
        delete = resource.delete
        assert delete is not None
        made = self.maker.make(kind)
        with story.step(f"{kind}: one change moves it to version 2"):
            snapshot = changes.move(made)
        stale = snapshot.number() - 1
        with story.step(f"{kind}: a DELETE with If-Match {stale} is 409, and the resource stays"):
            response = story.send(
                delete, token=self.run.token, path=made.path, headers={"If-Match": f'"{stale}"'}
            )
            if 200 <= response.status_code < 300:
                self.maker.forget(made)
            changes.error(
                response,
                409,
                "VERSION_CONFLICT",
                STALE_DELETE_409,
                f"a DELETE of {kind} {made.id} with a stale If-Match",
            )
            changes.unchanged(made, snapshot, "a DELETE with a stale If-Match")
        if made not in self.maker.made:
            return  # the stale DELETE removed it (reported above)
        version = snapshot.version
        with story.step(f"{kind}: a DELETE with If-Match {version} is 204, and then it is 404"):
            response = story.send(
                delete, token=self.run.token, path=made.path, headers={"If-Match": f'"{version}"'}
            )
            story.check(
                response.status_code == 204,
                DELETED_404,
                f"a DELETE of {kind} {made.id} with its current If-Match answered"
                f" {response.status_code}",
            )
            self.maker.forget(made)
            gone = changes.read(made)
            story.check(
                gone.status == 404,
                DELETED_404,
                f"{kind} {made.id} answered {gone.status} to a GET after its DELETE",
            )

    def duplicate(self, resource: Resource, group: tuple[str, ...]) -> None:
        story, changes, maker = self.story, self.changes, self.maker
        kind = str(resource.schema_name)
        create = resource.create
        assert create is not None
        taken = maker.make(kind)
        key = {name: taken.data.get(name) for name in group}
        shown = ", ".join(f"{name}={value!r}" for name, value in key.items())
        with story.step(f"{kind}: a create with the {shown} of another is 409 DUPLICATE"):
            body = maker.body(create, overrides=key)
            response = story.send(create, token=self.run.token, json_body=body)
            if 200 <= response.status_code < 300:
                maker.keep(kind, resource, payload(create, response), body)
            changes.error(
                response,
                409,
                "DUPLICATE",
                DUPLICATE_409,
                f"a create of a {kind} with a taken {' and '.join(group)}",
            )
            marks = {
                k: v for k, v in body.items() if isinstance(v, str) and " " in v and k not in key
            }
            if marks and resource.list is not None:  # its own free text tells it apart
                created, _ = maker.count_listed(
                    resource, body, lambda item: all(item.get(k) == v for k, v in marks.items())
                )
                story.check(
                    created == 0,
                    DUPLICATE_409,
                    f"the refused {kind} is listed all the same ({created} found)",
                )
        update = resource.update
        if update is None or resource.get is None:
            return
        settable = set(story.spec.properties(story.spec.request_schema(update)))
        other = maker.make(kind)
        fixed = [name for name in group if name not in settable]
        if not set(group) & settable or any(other.data.get(n) != key[n] for n in fixed):
            return  # the update cannot reach the other's key
        before = changes.read(other)
        with story.step(f"{kind}: an update to the {shown} of another is 409 DUPLICATE"):
            change = {name: key[name] for name in group if name in settable}
            response = story.send(update, token=self.run.token, path=other.path, json_body=change)
            changes.error(
                response,
                409,
                "DUPLICATE",
                DUPLICATE_409,
                f"an update of {kind} {other.id} to a taken {' and '.join(group)}",
            )
        with story.step(f"{kind}: and the updated one is unchanged"):
            changes.unchanged(other, before, "a duplicate key")
