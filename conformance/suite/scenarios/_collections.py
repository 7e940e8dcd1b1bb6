"""Collections keep their promises across requests (CONTRACT.md §3, issue 26).

For every kind with a list and a create at the top level of the API, on the run's own items (of
a kind the spec cannot delete, nothing is made: only its filters are read):

- **What is made is listed, what is deleted is gone**: an item the scenario made is on the list
  exactly once (``created-once``), as its ``GET`` shows it (``listed-as-read``); once its
  ``DELETE`` answered 2xx, its ``GET`` is 404 and no page of the list holds it
  (``deleted-unlisted``).
- **Pages partition the list**: three items of its own, marked with one unique word, walked with
  a page size of 2 where the list can be narrowed to them (its free-text search finds the word
  and nothing else), or, where it cannot, the whole list when it is small (``SMALL`` items at
  most): no item twice, none of its own missing, as many as ``total``, ``totalPages``,
  ``hasMore``, ``nextPage`` and ``prevPage`` (where the answer has them) agreeing with where
  the walk is, and the page after the last empty or refused, never a repeat
  (``pages-partition``). A walk that breaks the rule is walked again: only what both walks show
  is reported (another client may write to a shared list meanwhile). Where the list takes a
  sort order (a member and ``asc``/``desc``: `contract.sorting`) by the member the marks are
  in, its own items come in that order across the page boundaries, both ways (a sort applied
  page by page does not).
- **Filters filter**: each query parameter that names a member of the listed item with an exact
  meaning (an enum, a boolean, a reference id, an integer: `contract.filters`), given the value
  one of its own items has: every listed item has that value, and ``total`` counts them
  (``filter-holds``), checked again before it is reported.

How the list pages is read from its parameters on any spec (`contract.paging`: a page number or
an offset with a page size, or a cursor); a cursor walk follows the ``Link`` rel="next" or the
cursor the answer names (``next_cursor``, ``nextPageToken`` …). The
walks are bounded (`MAX_PAGES`); the scenario changes nothing it did not make.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract import (
    Filter,
    Paging,
    PointerError,
    Resource,
    Sorting,
    filters,
    follow,
    paging,
    sorting,
)
from conformance.suite._journal import item_path_of
from conformance.suite._unique import unique_groups
from conformance.suite.scenarios._changes import cast
from conformance.suite.scenarios._makers import Made, Maker, item_schema
from conformance.suite.scenarios._registry import ScenarioContext, scenario
from conformance.suite.scenarios._story import (
    ScenarioSkipped,
    StepSkipped,
    Story,
    scenario_rule,
)

# the catalogue's rules judged here (`scenario_rule` checks each at import)
CREATED_ONCE = scenario_rule("created-once")
DELETED_UNLISTED = scenario_rule("deleted-unlisted")
LISTED_AS_READ = scenario_rule("listed-as-read")
PAGES_PARTITION = scenario_rule("pages-partition")
FILTER_HOLDS = scenario_rule("filter-holds")

MAX_REQUESTS = 1200
#: pages one walk may ask for (the page after the last included)
MAX_PAGES = 14
#: the items of its own a partition walk pages through, and the page size it walks them with
OWN_ITEMS = 3
WALK_SIZE = 2
#: a list no search can narrow is walked whole only when it holds at most this many items
SMALL = 24
#: the page size of a filtered list, and how many of its pages are read
FILTER_SIZE = 50
FILTER_PAGES = 3
#: query parameters that search free text
SEARCH_NAMES = ("search", "q", "query", "filter")
#: where a page keeps its items, and its counters, as APIs name them
ITEM_MEMBERS = ("data", "items", "results", "content", "records", "rows")
TOTAL_MEMBERS = ("total", "totalCount", "total_count", "totalItems", "total_items", "count")
#: a count named after what it counts (``articlesCount``), where no member above is there
COUNT_SUFFIXES = ("Count", "_count")
MORE_MEMBERS = ("hasMore", "has_more", "hasNext", "has_next")
PAGES_MEMBERS = ("totalPages", "total_pages", "pages", "pageCount")
NEXT_MEMBERS = ("nextPage", "next_page")
CURSOR_MEMBERS = (
    "next_cursor", "nextCursor", "next_page_token", "nextPageToken", "next_token", "nextToken",
    "cursor",
)  # fmt: skip
PREV_MEMBERS = ("prevPage", "prev_page", "previousPage", "previous_page")
#: text members a unique word can go in, best first
TEXT_MEMBERS = ("name", "title", "label", "summary", "description", "body", "text")


@scenario(
    "collections",
    requires="a resource kind with a list and a create (paging and filters read from the"
    " list's parameters)",
    max_requests=MAX_REQUESTS,
    max_seconds=240,
    waits=1,
    data=True,
    order=45,
)
def collections(context: ScenarioContext, story: Story) -> None:
    """The three stories on every listed kind the run can make, as the run's own principal."""
    with cast(context, story) as players:
        Collections(story, players.maker).run_all()


@dataclass
class Page:
    """One answer of a walk: its items' keys and the counters it states."""

    number: int
    keys: list[str]
    items: list[dict[str, Any]]
    total: int | None = None
    has_more: bool | None = None
    total_pages: int | None = None
    next_page: Any = None
    prev_page: Any = None
    said: set[str] = field(default_factory=set)  #: the counters the answer has
    #: where the next page is: a ``Link`` rel="next" URL, or the cursor the body names
    link_url: str | None = None
    cursor: Any = None

    def pointed(self, response: httpx.Response, cursor: Any) -> None:
        """Note where the answer says the next page is: its ``Link`` rel="next", its cursor."""
        self.link_url = response.links.get("next", {}).get("url")
        self.cursor = cursor if isinstance(cursor, (str, int)) and cursor != "" else None


@dataclass
class Walk:
    pages: list[Page]
    #: the page after the last: its status and keys (None when not asked)
    after: tuple[int, list[str]] | None = None
    complete: bool = False

    @property
    def keys(self) -> list[str]:
        return [key for page in self.pages for key in page.keys]

    def item(self, key: str) -> dict[str, Any] | None:
        """The first listed item whose key is ``key``."""
        for page in self.pages:
            for found, item in zip(page.keys, page.items, strict=True):
                if found == key:
                    return item
        return None


class Collections:
    def __init__(self, story: Story, maker: Maker) -> None:
        self.story, self.maker, self.spec = story, maker, story.spec
        #: kind -> whether its list's search finds the word put in what the scenario made
        #: (a search may not cover the member the word went in: then the whole list is read)
        self.searchable: dict[str, bool] = {}
        #: kind -> the items of its own the partition made, and the query and page size that
        #: walk them (what the sort order is checked on)
        self.own: dict[str, list[Made]] = {}
        self.scope: dict[str, tuple[dict[str, Any], int, str]] = {}
        #: list operation -> how it pages (read once: every page of every walk asks)
        self._pagings: dict[str, Paging | None] = {}

    def paging_of(self, resource: Resource) -> Paging | None:
        listing = resource.list
        assert listing is not None
        if listing.label not in self._pagings:
            self._pagings[listing.label] = paging(listing)
        return self._pagings[listing.label]

    def run_all(self) -> None:
        kinds = [
            resource
            for resource in self.maker.by_kind.values()
            if resource.list is not None
            and resource.create is not None
            and "{" not in resource.list.path  # a nested list needs its parent made first
            and "{" not in resource.create.path
        ]
        if not kinds:
            raise ScenarioSkipped("no resource kind has a list and a create at the API's top")
        for resource in kinds:
            kind = str(resource.schema_name)
            # what the spec cannot delete is not made: on a shared target it would stay
            deletable = resource.delete is not None
            if deletable:
                with self.story.part(
                    f"{kind}: what is made is listed once, what is deleted is gone"
                ):
                    self.made_and_gone(resource)
            listing = resource.list
            assert listing is not None
            pages = self.paging_of(resource)
            item = self.spec.properties(item_schema(self.spec, resource))
            if deletable and pages is not None:
                with self.story.part(f"{kind}: pages partition the list"):
                    self.partition(resource, pages)
                order = sorting(self.spec, listing, item)
                if order is not None and kind in self.scope:
                    with self.story.part(f"{kind}: the stated sort order holds across pages"):
                        self.sorted_across(resource, pages, order, self.own[kind])
            for found in filters(self.spec, listing, item):
                with self.story.part(f"{kind}: the {found.parameter.name} filter filters"):
                    self.filtered(resource, found, self.own.get(kind, []))

    # -- what is made is listed, what is deleted is gone ------------------------------------

    def made_and_gone(self, resource: Resource) -> None:
        story, maker = self.story, self.maker
        kind = str(resource.schema_name)
        word = _word()
        with story.step(f"{kind}: one made is listed once"):
            made = maker.make(kind, overrides=self._marked(resource, word, 0))
            walk = self.narrowed(resource, word)
            if self._search(resource) is not None:
                # it narrows when it finds the word and nothing else: else the word is in a
                # member it does not search, or it ignores the search (the whole list is read)
                self.searchable[kind] = walk.keys == [made.path]
                if not self.searchable[kind] and made.path not in walk.keys:
                    walk = self.narrowed(resource, word)
            seen = walk.keys.count(made.path)
            story.check(
                seen == 1,
                CREATED_ONCE,
                f"{kind} {made.path} is listed {seen} times (pages walked: {len(walk.pages)})",
            )
        etag: str | None = None  # the ETag to delete it with (an API may require one)
        if resource.get is not None:
            with story.step(f"{kind}: listed as its GET shows it"):
                listed = walk.item(made.path)
                read = maker.read(made)
                etag = read.etag
                if not read.ok or listed is None:
                    raise StepSkipped(f"its GET answered {read.status}")
                differing = [
                    f"{name} {listed[name]!r} where its GET says {read.data[name]!r}"
                    for name in sorted(set(listed) & set(read.data))
                    if listed[name] != read.data[name]
                ]
                story.check(
                    not differing,
                    LISTED_AS_READ,
                    f"{kind} {made.path} is listed with " + "; ".join(differing[:3]),
                )
        delete = resource.delete
        assert delete is not None  # `run_all` makes nothing the spec cannot delete
        with story.step(f"{kind}: once deleted, its GET is 404 and no page lists it"):
            headers = {"If-Match": etag} if etag else None
            response = story.send(delete, token=maker.token, path=made.path, headers=headers)
            if not 200 <= response.status_code < 300:
                raise StepSkipped(f"its DELETE answered {response.status_code}")
            maker.forget(made)
            if resource.get is not None:
                gone = maker.read(made)
                story.check(
                    gone.status == 404,
                    DELETED_UNLISTED,
                    f"{kind} {made.path} answered {gone.status} to a GET after its DELETE",
                )
            walk = self.narrowed(resource, word)
            ghosts = walk.keys.count(made.path)
            story.check(
                ghosts == 0,
                DELETED_UNLISTED,
                f"{kind} {made.path} is still listed after its DELETE answered"
                f" {response.status_code} ({ghosts} times over {len(walk.pages)} pages)",
            )

    # -- pages partition the list ------------------------------------------------------------

    def partition(self, resource: Resource, pages: Paging) -> None:
        story, maker = self.story, self.maker
        kind = str(resource.schema_name)
        word = _word()
        with story.step(f"{kind}: {OWN_ITEMS} of its own, marked with one word"):
            own = self.own.setdefault(kind, [])
            for n in range(1, OWN_ITEMS + 1):
                own.append(maker.make(kind, overrides=self._marked(resource, word, n)))
        search = self._search(resource) if self.searchable.get(kind) else None
        size = max(WALK_SIZE, pages.smallest)
        base: dict[str, Any] = {}
        if search is not None:
            base = {search: word}
            what = f"the list narrowed to them by {search}={word}"
        else:
            first = self.walk(resource, pages, {}, size, max_pages=1)
            total = first.pages[0].total if first.pages else None
            if total is None and pages.style != "cursor":  # no count: small if a walk ends
                whole = self.walk(resource, pages, {}, size, max_pages=MAX_PAGES - 2)
                total = len(whole.keys) if whole.complete else None
            if total is None or total > SMALL:
                raise StepSkipped(
                    f"not applicable: the list cannot be narrowed to the run's own items (no"
                    f" search) and is not small ({total if total is not None else 'no'} total)"
                )
            size = max(size, math.ceil(total / (MAX_PAGES - 2)))
            what = f"the whole list ({total} items)"
        self.scope[kind] = (base, size, what)
        with story.step(f"{kind}: {what}, walked {size} a page, partitions it"):
            problems = _recurring(
                lambda: self.partition_problems(resource, pages, base, size, own, search)
            )
            story.check(not problems, PAGES_PARTITION, "; ".join(problems[:4]))

    def sorted_across(
        self, resource: Resource, pages: Paging, order: Sorting, own: list[Made]
    ) -> None:
        """The run's own items, walked in each direction by the member their marks are in,
        come in that order across the page boundaries (a sort applied page by page does not)."""
        kind = str(resource.schema_name)
        marked = self._marked(resource, "", 1)
        member = next((name for name in marked if name in order.members), None)
        if member is None or len(own) < 2:
            raise StepSkipped(
                f"not applicable: {order.by.name} cannot sort by what tells its own items apart"
            )
        base, size, what = self.scope[kind]
        for direction in ("desc", "asc"):
            query = {**base, order.by.name: member, order.order.name: direction}
            with self.story.step(
                f"{kind}: {what}, sorted by {member} {direction}, {size} a page, in that order"
            ):
                judge = functools.partial(  # bound now: the loop goes on to the other way
                    self.order_problems, resource, pages, query, size, own, member, direction
                )
                problems = _recurring(judge)
                self.story.check(not problems, PAGES_PARTITION, "; ".join(problems))

    def order_problems(
        self,
        resource: Resource,
        pages: Paging,
        query: Mapping[str, Any],
        size: int,
        own: list[Made],
        member: str,
        direction: str,
    ) -> list[str]:
        walk = self.walk(resource, pages, query, size)
        if not walk.complete:
            raise StepSkipped(f"the walk did not end within {MAX_PAGES} pages")
        mine = {made.path: str(made.data.get(member, made.body.get(member))) for made in own}
        seen = [mine[key] for key in walk.keys if key in mine]
        expected = sorted(seen, reverse=direction == "desc")
        if seen == expected:
            return []
        where = {key: page.number for page in walk.pages for key in page.keys if key in mine}
        shown = ", ".join(f"{mine[key]!r} on page {n}" for key, n in where.items())
        return [f"sorted by {member} {direction}, its own items came {shown}"]

    def partition_problems(
        self,
        resource: Resource,
        pages: Paging,
        base: Mapping[str, Any],
        size: int,
        own: list[Made],
        search: str | None,
    ) -> list[str]:
        walk = self.walk(resource, pages, base, size, after=True)
        if not walk.complete:
            raise StepSkipped(f"the walk did not end within {MAX_PAGES} pages")
        problems: list[str] = []
        keys = walk.keys
        if search is not None:
            foreign = [key for key in keys if key not in {made.path for made in own}]
            if foreign:
                raise StepSkipped(
                    f"not applicable: {search} did not narrow the list to the run's own items"
                    f" ({len(foreign)} others)"
                )
        where: dict[str, list[int]] = {}
        for page in walk.pages:
            for key in page.keys:
                where.setdefault(key, []).append(page.number)
        twice = {key: numbers for key, numbers in where.items() if len(numbers) > 1}
        problems += [f"{key} is on pages {numbers}" for key, numbers in sorted(twice.items())]
        missing = [made.path for made in own if made.path not in where]
        if missing:
            problems.append(f"{', '.join(missing)} on no page of the walk")
        last = walk.pages[-1].number if walk.pages else 0
        for page in walk.pages:
            problems += _counters(page, last, len(keys), size, pages.style)
        if walk.after is not None:
            status, repeated = walk.after
            if 200 <= status < 300 and repeated:
                problems.append(
                    f"page {last + 1}, after the last, lists {len(repeated)} items again"
                    f" ({', '.join(repeated[:3])})"
                )
        return problems

    def walk(
        self,
        resource: Resource,
        pages: Paging,
        base: Mapping[str, Any],
        size: int,
        *,
        after: bool = False,
        max_pages: int = MAX_PAGES - 1,
    ) -> Walk:
        """The list's pages from the first while there are more (bounded); with ``after``, the
        page after the last too."""
        walk = Walk([])
        page: Page | None = None
        for number in range(1, max_pages + 1):
            query = {**base, **pages.query(number, size)}
            if pages.style == "cursor" and page is not None:  # where the last page pointed
                if page.link_url is not None:
                    response = self.follow(resource, page.link_url)
                else:
                    response = self.page(resource, {**query, pages.position.name: page.cursor})
            else:
                response = self.page(resource, query)
            page = self.read_page(resource, number, response)
            if page is None:
                raise StepSkipped(f"the list answered {response.status_code}")
            walk.pages.append(page)
            ended = _ended(page, number, size)
            if pages.style == "cursor":
                ended = not page.keys or (page.cursor is None and page.link_url is None)
            if ended:
                walk.complete = True
                break
        if walk.complete and after and pages.style != "cursor":
            number = walk.pages[-1].number + 1
            response = self.page(resource, {**base, **pages.query(number, size)})
            read = self.read_page(resource, number, response)
            seen = set(walk.keys)
            repeated = [key for key in (read.keys if read else []) if key in seen]
            walk.after = (response.status_code, repeated)
        return walk

    def page(self, resource: Resource, query: Mapping[str, Any]) -> httpx.Response:
        listing = resource.list
        assert listing is not None
        path = listing.path + ("?" + str(httpx.QueryParams(dict(query))) if query else "")
        return self.story.send(listing, token=self.maker.token, path=path)

    def follow(self, resource: Resource, url: str) -> httpx.Response:
        """The page a ``Link`` rel="next" names (relative to the API's base URL)."""
        listing = resource.list
        assert listing is not None
        target, base = httpx.URL(self.story.url).join(url), httpx.URL(self.story.url)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise StepSkipped(f"the next page's Link points to another host: {target.host}")
        prefix = base.path.rstrip("/")
        path = target.path[len(prefix) :] if target.path.startswith(prefix) else target.path
        query = target.query.decode()
        return self.story.send(
            listing, token=self.maker.token, path=path + (f"?{query}" if query else "")
        )

    def read_page(self, resource: Resource, number: int, response: httpx.Response) -> Page | None:
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        declared = self.paging_of(resource)
        if declared is not None and declared.items is not None:
            return _declared_page(resource, number, response, body, declared)
        holder, items = _items(body)
        if holder is None and not isinstance(body, list):
            raise StepSkipped(
                "not applicable: the list's answer holds its items nowhere the suite looks"
                " (data, items, results …): declare where with x-paging items"
            )
        listed = [item for item in items if isinstance(item, dict)]
        page = Page(number, [_key(resource, item) for item in listed], listed)
        if isinstance(holder, Mapping):
            names: tuple[str, ...] = TOTAL_MEMBERS
            if not set(TOTAL_MEMBERS) & set(holder):  # one count named after what it counts
                counts = tuple(str(n) for n in holder if str(n).endswith(COUNT_SUFFIXES))
                names = counts if len(counts) == 1 else ()
            page.total = _int(holder, names, page.said, "total")
            page.has_more = _bool(holder, MORE_MEMBERS, page.said)
            page.total_pages = _int(holder, PAGES_MEMBERS, page.said, "totalPages")
            page.next_page = _member(holder, NEXT_MEMBERS, page.said, "nextPage")
            page.prev_page = _member(holder, PREV_MEMBERS, page.said, "prevPage")
        cursor = (
            _member(holder, CURSOR_MEMBERS, page.said, "cursor")
            if isinstance(holder, Mapping)
            else None
        )
        page.pointed(response, cursor)
        return page

    def narrowed(self, resource: Resource, word: str) -> Walk:
        """The list narrowed by its search to ``word``, else whole while small (every page)."""
        search = self._search(resource)
        if not self.searchable.get(str(resource.schema_name), True):
            search = None
        pages = self.paging_of(resource)
        size = 100 if pages is None else pages.fitted(100)
        if pages is None:
            response = self.page(resource, {search: word} if search else {})
            page = self.read_page(resource, 1, response)
            if page is None:
                raise StepSkipped(f"the list answered {response.status_code}")
            return Walk([page], complete=True)
        walk = self.walk(resource, pages, {search: word} if search else {}, size, max_pages=4)
        if not walk.complete:
            raise StepSkipped("not applicable: the list is longer than 4 pages and has no search")
        return walk

    def _search(self, resource: Resource) -> str | None:
        listing = resource.list
        assert listing is not None
        return next((n for n in SEARCH_NAMES if listing.parameter(n, "query") is not None), None)

    def _marked(self, resource: Resource, word: str, n: int) -> dict[str, Any]:
        """The create body's member the unique ``word`` goes in (the one a search finds)."""
        create = resource.create
        assert create is not None
        schema = self.spec.request_schema(create)
        members = self.spec.properties(schema)
        texts = [name for name, sub in members.items() if _plain_text(self.spec.deref(sub))]
        chosen = next((n for n in TEXT_MEMBERS if n in texts), texts[0] if texts else None)
        marked: dict[str, Any] = {} if chosen is None else {chosen: f"{word} {n}"}
        # a uniqueness key with an enum in it (one grant per user and module) takes another
        # of its values for each item made, where the enum has enough of them
        for group in unique_groups(self.spec, item_schema(self.spec, resource)):
            for name in group:
                values = (
                    self.spec.deref(members.get(name, {})).get("enum") if name in members else None
                )
                if isinstance(values, list) and len(values) > n:
                    marked[name] = values[n]
        return marked

    # -- filters filter ----------------------------------------------------------------------

    def filtered(self, resource: Resource, found: Filter, own: list[Made]) -> None:
        story = self.story
        kind = str(resource.schema_name)
        name = found.parameter.name
        value = next(
            (m.data.get(found.member) for m in own if m.data.get(found.member) is not None), None
        )
        if value is None:
            value = _example(self.spec.deref(found.parameter.schema), found.meaning)
        if value is None:  # a reference its own items leave empty: one a listed item holds
            value = self._listed_value(resource, found.member)
        if value is None:
            raise StepSkipped(f"no value of {found.member} to filter by")
        shown = json.dumps(value) if not isinstance(value, str) else value
        with story.step(
            f"{kind}: listed with {name}={shown}, every item has it and total counts them"
        ):
            problems = _recurring(lambda: self.filter_problems(resource, found, value))
            story.check(not problems, FILTER_HOLDS, "; ".join(problems[:4]))

    def _listed_value(self, resource: Resource, member: str) -> Any:
        """A value of ``member`` that an item of the list's first page holds (read only)."""
        page = self.read_page(resource, 1, self.page(resource, {}))
        items = page.items if page is not None else []
        return next((item[member] for item in items if item.get(member) is not None), None)

    def filter_problems(self, resource: Resource, found: Filter, value: Any) -> list[str]:
        pages = self.paging_of(resource)
        query_value = json.dumps(value) if isinstance(value, bool) else value
        base = {found.parameter.name: query_value}
        if pages is None:
            page = self.read_page(resource, 1, self.page(resource, base))
            walk = Walk([page] if page else [], complete=False)
        else:
            size = pages.fitted(FILTER_SIZE)
            walk = self.walk(resource, pages, base, size, max_pages=FILTER_PAGES)
        if not walk.pages:
            raise StepSkipped("the filtered list answered no page")
        problems: list[str] = []
        wrong = [
            (key, item.get(found.member))
            for page in walk.pages
            for key, item in zip(page.keys, page.items, strict=True)
            if found.member in item and not _same(item.get(found.member), value)
        ]
        if wrong:
            shown = ", ".join(f"{key} has {v!r}" for key, v in wrong[:3])
            problems.append(
                f"{len(wrong)} listed items do not have {found.member}={value!r}: {shown}"
            )
        total = walk.pages[0].total
        counted = len(walk.keys)
        if walk.complete and total is not None and total != counted:
            problems.append(f"total says {total}, the filtered pages hold {counted}")
        return problems


# -- reading answers -------------------------------------------------------------------------


def _recurring(judge: Callable[[], list[str]]) -> list[str]:
    """What ``judge`` finds twice in a row: a breach is walked again before it is reported, and
    only what recurs is (another client may write to a shared list between two pages)."""
    problems = judge()
    if not problems:
        return []
    again = judge()
    return [problem for problem in problems if problem in again]


def _word() -> str:
    return "cf" + uuid.uuid4().hex[:10]


def _key(resource: Resource, item: Mapping[str, Any]) -> str:
    return item_path_of(resource, item) or json.dumps(item, sort_keys=True, default=str)[:80]


def _declared_page(
    resource: Resource, number: int, response: httpx.Response, body: Any, declared: Paging
) -> Page:
    """A page read where ``x-paging`` says its items, total and next cursor are."""

    def at(pointer: str | None) -> Any:
        if pointer is None:
            return None
        try:
            return follow(body, pointer)
        except PointerError:
            return None

    items = at(declared.items)
    if not isinstance(items, list):
        raise StepSkipped(f"the list's answer has no items at {declared.items} (its x-paging)")
    listed = [item for item in items if isinstance(item, dict)]
    page = Page(number, [_key(resource, item) for item in listed], listed)
    total = at(declared.total)
    if isinstance(total, int) and not isinstance(total, bool):
        page.total = total
        page.said.add("total")
    page.pointed(response, at(declared.next))
    return page


def _items(body: Any) -> tuple[Any, list[Any]]:
    """The object that holds a list answer's items (and its counters), and the items; ``(None,
    [])`` when it holds none where an API keeps them."""
    if isinstance(body, list):
        return None, body
    if not isinstance(body, Mapping):
        return None, []
    for name in ITEM_MEMBERS:
        inner = body.get(name)
        if isinstance(inner, list):
            return body, inner
        if isinstance(inner, Mapping):  # an envelope around the page (an ApiResponse)
            holder, items = _items(inner)
            if items or holder is not None:
                return holder, items
    arrays = [value for value in body.values() if isinstance(value, list)]
    if len(arrays) == 1:
        return body, arrays[0]
    return None, []


def _member(holder: Mapping[str, Any], names: tuple[str, ...], said: set[str], as_: str) -> Any:
    for name in names:
        if name in holder:
            said.add(as_)
            return holder[name]
    return None


def _int(holder: Mapping[str, Any], names: tuple[str, ...], said: set[str], as_: str) -> int | None:
    value = _member(holder, names, said, as_)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    said.discard(as_)
    return None


def _bool(holder: Mapping[str, Any], names: tuple[str, ...], said: set[str]) -> bool | None:
    value = _member(holder, names, said, "hasMore")
    if isinstance(value, bool):
        return value
    said.discard("hasMore")
    return None


def _ended(page: Page, number: int, size: int) -> bool:
    """Whether ``page`` is the walk's last, by what it says (else by being short)."""
    if not page.keys:
        return True
    if page.has_more is not None:
        return not page.has_more
    if page.total_pages is not None:
        return number >= page.total_pages
    if page.total is not None:
        return number * size >= page.total
    if page.link_url is not None:
        return False
    return len(page.keys) < size


def _counters(page: Page, last: int, counted: int, size: int, style: str) -> list[str]:
    """What ``page``'s counters say that the walk contradicts."""
    problems: list[str] = []
    n = page.number
    if page.total is not None and page.total != counted:
        problems.append(f"page {n} says total {page.total}, the walk found {counted} items")
    if page.total_pages is not None and page.total is not None:
        expected = math.ceil(page.total / size)
        if page.total_pages != expected:
            problems.append(
                f"page {n} says totalPages {page.total_pages} for total {page.total} at"
                f" {size} a page"
            )
    if page.has_more is not None and page.has_more != (n < last):
        problems.append(f"page {n} of {last} says hasMore {str(page.has_more).lower()}")
    if style == "page":
        if "nextPage" in page.said and page.next_page != (n + 1 if n < last else None):
            problems.append(f"page {n} of {last} says nextPage {page.next_page!r}")
        if "prevPage" in page.said and page.prev_page != (n - 1 if n > 1 else None):
            problems.append(f"page {n} says prevPage {page.prev_page!r}")
    return problems


def _plain_text(schema: Any) -> bool:
    if not isinstance(schema, Mapping) or schema.get("type") != "string":
        return False
    if any(key in schema for key in ("enum", "format", "pattern", "const")):
        return False
    longest = schema.get("maxLength")
    return not isinstance(longest, int) or longest >= 16


def _example(schema: Any, meaning: str) -> Any:
    if not isinstance(schema, Mapping):
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if meaning == "boolean":
        return True
    return None


def _same(listed: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(listed, bool):
        return listed is wanted or str(listed).lower() == str(wanted).lower()
    return str(listed) == str(wanted)
