"""Reading problems for people (the HTTP API): filtered, newest first, in pages with a keyset cursor.

Like ``incident_queries``: the index ``<ns>:problems`` (``<ns>:problems:open`` when only open statuses are
asked for) is read in chunks by creation time, records fetched through ``Links.problems`` (one pipeline per
chunk) and filtered here; the cursor is the last item's (created_at, id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from correlation.store.incident_queries import decode_cursor, encode_cursor
from correlation.store.links import Links

CHUNK = 200
STATUSES = frozenset({"open", "known_error", "resolved"})
PROBLEM_ID = re.compile(r"PRB-[A-Za-z0-9_.]+-[0-9]+")


def is_problem_id(text: str) -> bool:
    return PROBLEM_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class ProblemFilter:
    statuses: frozenset[str] = frozenset()  # empty: any
    rules: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()

    def matches(self, doc: dict[str, Any]) -> bool:
        return ((not self.statuses or doc["status"] in self.statuses)
                and (not self.rules or doc["rule"] in self.rules)
                and (not self.teams or doc["team"] in self.teams))


async def page_problems(links: Links, filters: ProblemFilter, *, limit: int, cursor: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` problems (public form), newest first, and the next page's cursor (None at the end).
    ValueError for a cursor this module did not make."""
    keys = links.keys
    open_only = bool(filters.statuses) and "resolved" not in filters.statuses
    index = keys.open_problems if open_only else keys.problems
    after = decode_cursor(cursor) if cursor else None
    high: Any = after[0] if after is not None else "+inf"
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        chunk = cast(list[tuple[bytes, float]],  # a bytes client; withscores: (member, score) pairs
                     await links.redis.zrevrangebyscore(index, high, "-inf", start=offset, num=CHUNK, withscores=True))
        if not chunk:
            return found, None
        offset += len(chunk)
        ids = [raw.decode() for raw, score in chunk
               if after is None or score != after[0] or raw.decode() < after[1]]
        for problem in await links.problems(ids) if ids else []:
            doc = problem.public()
            if filters.matches(doc):
                found.append(doc)
                if len(found) == limit:
                    return found, encode_cursor(doc["created_at"], doc["id"])
        if len(chunk) < CHUNK:
            return found, None
