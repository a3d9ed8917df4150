"""What crosses groups, in Redis: the shared cause index, symptoms attached to their cause's incident, problems.

Each of these touches keys outside the deciding group's hash slot, so it runs after the group write as an
idempotent follow-up, one small script per key (each keeps to one slot, as a Redis Cluster requires):

* cause index updates carry the alert's revision, and a script keeps only the newest, so updates that
  reach Redis out of order from different workers cannot bring back a source that stopped (a stopped source
  keeps its incident and when it stopped, for its rules' recovery grace);
* a symptom is attached at most once (``HSETNX``), with its timeline entry and the count on the incident;
* the symptom candidate index (members a late source may explain) is kept as the cause index is; after both are
  written, each side reads the other's, and an incident a late cause may now explain gets a merge timer, due now
  (``correlation.core.merging``): the merge itself is a group write like any other;
* a problem occurrence is a sorted-set member per incident; the script opens a problem once per signature
  and links later incidents; a replay of the occurrence that opened it answers ``created`` again, so the
  ``problem.created`` event is published again (at least once, like every event, with a stable id).
"""

from __future__ import annotations

from typing import Any, cast
from collections.abc import Iterable, Sequence

import orjson
from redis.asyncio import Redis

from events.builders import problem_correlated

from correlation.core.causes import Entry, describe_cause
from correlation.core.decision import hold_timer, merge_timer, parse_timer
from correlation.store.keyspace import Keyspace
from correlation.core.lifecycle import describe as _describe
from correlation.core.merging import late_cause_reads, rehomed, to_check, to_replace
from correlation.core.problems import Occurrence, Problem, recurrence_occurrence, shared_cause_occurrence, signature_id
from correlation.core.routing import Router
from kv.due import DueIndex
from kv.scripts import Scripts

CAUSE_TTL = 7 * 86400  # a cause key nobody wrote to for a week holds only stopped sources


class Links:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, timeline_max: int) -> None:
        self.redis = redis
        self.keys = keyspace
        self.timeline_max = timeline_max
        self.due = DueIndex(redis, keyspace)  # a late cause's merge timers (fired by pipeline.TimerFiring)
        self.scripts = Scripts(redis, "correlation.store", "cause_update", "add_symptom", "problem_occurrence",
                               "problem_link", "problem_status")

    # -- the cause index --------------------------------------------------------------------------

    async def read_causes(self, keys: Sequence[str]) -> dict[str, dict[str, Entry]]:
        """The cause index entries under ``keys`` (one round trip)."""
        return (await self._read_indexes([self.keys.cause(key) for key in keys], keys))[0]

    async def _read_indexes(self, *names_and_keys: Sequence[str]) -> list[dict[str, dict[str, Entry]]]:
        """Index hashes (the cause and candidate indexes) in one round trip: for each (redis names, cause keys) pair,
        cause key -> fingerprint -> entry."""
        pairs = [(names_and_keys[i], names_and_keys[i + 1]) for i in range(0, len(names_and_keys), 2)]
        if not any(names for names, _ in pairs):
            return [{} for _ in pairs]
        pipe = self.redis.pipeline(transaction=False)
        for names, _ in pairs:
            for name in names:
                pipe.hgetall(name)
        raws = iter(await pipe.execute())
        out: list[dict[str, dict[str, Entry]]] = []
        for _, keys in pairs:
            index: dict[str, dict[str, Entry]] = {}
            for key in keys:
                raw = next(raws)
                if raw:
                    index[key] = {fp.decode(): Entry.decode(v) for fp, v in raw.items()}
            out.append(index)
        return out

    # -- follow-ups ---------------------------------------------------------------------------------

    async def apply(self, follow_ups: Iterable[Any], router: Router, now: float,
                    attached: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Cause updates, symptoms and problem occurrences of applied decisions; returns problem events. The symptom
        documents it attached (a repeat too: attaching is idempotent), re-homed ones included, are appended to
        ``attached`` when given (their services' changes are linked next: ``ChangeStore.link_symptoms``)."""
        follow_ups = list(follow_ups)
        await self.scripts.run_many("cause_update", [
            ([self.keys.cause(key)], [fp, stamp, tail, CAUSE_TTL])  # tail: "incident[|stopped]" (Entry.tail)
            for f in follow_ups for key, fp, stamp, tail in f.sources
        ] + [
            ([self.keys.symptom_candidates(key)], [fp, stamp, incident, CAUSE_TTL])  # the same shape, and script
            for f in follow_ups for key, fp, stamp, incident in f.candidates
        ])
        await self.late_causes(follow_ups, now)
        occurrences: list[Occurrence] = []
        for f in follow_ups:
            for rule_name, signature, incident, at, _ in f.recurrences:
                rule = router.problem_rules.get(rule_name)
                if rule is not None and rule.recurrence is not None:
                    occurrences.append(recurrence_occurrence(rule, signature, incident, at))
        symptoms = [s for f in follow_ups for s in f.symptoms]
        symptoms += await self._rehomed(follow_ups, symptoms)
        if attached is not None:
            attached += symptoms
        occurrences += await self._attach_symptoms(symptoms, router, now)
        return await self._occur(occurrences, now)

    async def late_causes(self, follow_ups: Sequence[Any], now: float) -> set[str]:
        """After the index updates: arm a merge timer (due now) for every incident a late cause may now explain
        (``correlation.core.merging``); returns those incidents. Idempotent: a timer is one sorted-set member."""
        sources = [u for f in follow_ups for u in f.sources]
        candidates = [u for f in follow_ups for u in f.candidates]
        candidate_keys, cause_keys = late_cause_reads(sources, candidates)
        candidate_index, cause_index = await self._read_indexes(
            [self.keys.symptom_candidates(k) for k in candidate_keys], candidate_keys,
            [self.keys.cause(k) for k in cause_keys], cause_keys)
        incidents = to_check(sources, candidates, candidate_index, cause_index)
        replace = to_replace(sources, candidate_index)
        if incidents or replace:
            pipe = self.redis.pipeline(transaction=False)
            for iid in sorted(incidents):
                member = merge_timer(iid)
                self.due.schedule_in(pipe, "merge", member, now, shard=self.keys.timer_shard(parse_timer(member)[1]))
            for group_id, fp in sorted(replace):  # a better cause may have appeared: place the symptom again now
                self.due.schedule_in(pipe, "hold", hold_timer(group_id, fp), now,
                                     shard=self.keys.timer_shard(group_id))
            await pipe.execute()
        return incidents

    async def _rehomed(self, follow_ups: Sequence[Any], symptoms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The symptoms of incidents these follow-ups merged, for the incidents they merged into (merging.rehomed)."""
        merges = {e["incident"]["id"]: e["into"] for f in follow_ups for e in f.events
                  if e["type"] == "incident.merged"}
        if not merges:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for merged in merges:
            pipe.hgetall(self.keys.incident_symptoms(merged))
        raws = await pipe.execute()
        attached = {merged: [orjson.loads(v) for v in raw.values()] for merged, raw in zip(merges, raws, strict=True)}
        return rehomed(merges, attached, symptoms)

    async def _attach_symptoms(self, symptoms: list[dict[str, Any]], router: Router, now: float) -> list[Occurrence]:
        calls = []
        for s in symptoms:
            iid = s["incident"]
            text = f"{_describe(s['labels'])} is a symptom: {describe_cause(s['kind'], s['rule'], s['path'])}"
            if s.get("evidence"):
                text += f" ({s['evidence']})"
            if s.get("merged_from"):
                text += f" (from {s['merged_from']}, which merged into this incident: its cause fired later)"
            entry = {"at": s["at"], "kind": "symptom", "text": text, "fingerprint": s["fingerprint"]}
            keys = [self.keys.incident(iid), self.keys.incident_symptoms(iid), self.keys.incident_timeline(iid)]
            args: list[Any] = [f"{s['group']}:{s['fingerprint']}", orjson.dumps(s), orjson.dumps(entry),
                               self.timeline_max]
            for rule in router.shared_cause:
                keys.append(self.keys.incident_symptom_services(iid, rule.name))
                services = router.symptom_services(rule, [s["labels"]])
                args.append(next(iter(services), ""))
            calls.append((keys, args))
        results = await self.scripts.run_many("add_symptom", calls)
        occurrences = []
        for s, result in zip(symptoms, results, strict=True):
            title = result[1].decode() if isinstance(result[1], bytes) else str(result[1])
            # strict=False: add_symptom.lua answers {0, ''} alone when the incident is gone
            for rule, members in zip(router.shared_cause, result[2:], strict=False):
                services = {m.decode() for m in members}
                o = shared_cause_occurrence(rule, s["incident"], services, now, title)
                if o is not None:
                    occurrences.append(o)
        return occurrences

    async def _occur(self, occurrences: list[Occurrence], now: float) -> list[dict[str, Any]]:
        calls = []
        unique: dict[tuple[str, str], Occurrence] = {}
        for o in occurrences:
            unique.setdefault((signature_id(o.rule, o.signature), o.incident), o)
        for (sig, _), o in unique.items():
            problem = Problem("", o.rule, o.problem_title, "open", o.at, o.at, o.team, dict(o.signature), [],
                              dict(o.why), o.incident)
            fields = [x for k, v in problem.to_hash().items()
                      if k not in ("id", "status", "created_by") for x in (k, v)]
            calls.append(([self.keys.problem_occurrences(sig), self.keys.problem_state(sig)],
                          [o.incident, o.at, o.within, o.count, self.keys.problem_prefix(sig), f"PRB-{sig}-", *fields]))
        results = await self.scripts.run_many("problem_occurrence", calls)
        changed: list[tuple[str, str, Occurrence]] = []
        for o, (outcome, value) in zip(unique.values(), results, strict=True):
            outcome = outcome.decode()
            if outcome in ("created", "linked"):
                changed.append((outcome, value.decode(), o))
        if not changed:
            return []
        problems = {p.id: p for p in await self.problems([pid for _, pid, _ in changed])}
        pipe = self.redis.pipeline(transaction=False)
        events = []
        for outcome, pid, o in changed:
            problem = problems[pid]
            pipe.zadd(self.keys.problems, {pid: problem.created_at})
            if problem.is_open:
                pipe.zadd(self.keys.open_problems, {pid: problem.created_at})
            text = (f"opened: {len(problem.incidents)} incident(s) under rule {problem.rule}" if outcome == "created"
                    else f"incident {o.incident} linked")
            pipe.rpush(self.keys.problem_timeline(pid), orjson.dumps({"at": o.at, "kind": outcome, "text": text}))
            events.append(problem_correlated(problem.public(), outcome, o.incident, text, o.at))
        await pipe.execute()
        return events

    # -- queries --------------------------------------------------------------------------------------

    async def problems(self, ids: Sequence[str]) -> list[Problem]:
        pipe = self.redis.pipeline(transaction=False)
        for pid in ids:
            pipe.hgetall(self.keys.problem(pid))
            pipe.smembers(self.keys.problem(pid) + ":incidents")
        raw = await pipe.execute()
        return [Problem.from_hash(h, [m.decode() for m in members])
                for h, members in zip(raw[::2], raw[1::2], strict=True) if h]

    async def list_problems(self, *, open_only: bool = False, limit: int = 100) -> list[Problem]:
        index = self.keys.open_problems if open_only else self.keys.problems
        ids = cast(list[bytes], await self.redis.zrevrange(index, 0, limit - 1))  # a bytes client
        return await self.problems([i.decode() for i in ids])

    async def problem_timeline(self, problem_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(e) for e in await self.redis.lrange(self.keys.problem_timeline(problem_id), 0, -1)]

    async def set_problem_status(self, problem_id: str, status: str, who: str, now: float,
                                 comment: str = "") -> Problem | None:
        """A person marks a problem known_error or resolved (resolved frees its signature for a new problem);
        None when there is no such problem. A resolved problem stays resolved."""
        _, problem = await self.change_problem_status(problem_id, status, who, now, comment)
        return problem

    async def change_problem_status(self, problem_id: str, status: str, who: str, now: float,
                                    comment: str = "") -> tuple[str, Problem | None]:
        """(outcome, the problem afterwards): outcome 'changed', 'same', 'resolved' (refused: it is resolved)
        or 'missing'. One script on the problem's own slot checks and changes, with its timeline entry."""
        key = self.keys.problem(problem_id)
        sig = problem_id[len("PRB-"):].rpartition("-")[0]
        entry = orjson.dumps({"at": now, "kind": status, "by": who,
                              "text": f"{status} by {who}" + (f": {comment}" if comment else "")})
        (raw,) = await self.scripts.run_many("problem_status", [
            ([key, self.keys.problem_timeline(problem_id), self.keys.problem_state(sig)],
             [status, repr(now), entry, problem_id])])
        outcome = raw.decode() if isinstance(raw, bytes) else str(raw)
        if outcome == "missing":
            return outcome, None
        if outcome == "changed" and status == "resolved":
            await self.redis.zrem(self.keys.open_problems, problem_id)  # the index is another slot: after
        found = await self.problems([problem_id])
        return outcome, found[0] if found else None

    async def link_incident(self, problem_id: str, incident_id: str, who: str, now: float, *,
                            unlink: bool = False) -> str:
        """A person links (or unlinks) an incident: 'changed', 'same', 'missing' (no problem) or 'resolved'
        (a resolved problem takes no new incidents). One script on the problem's own slot, with its timeline."""
        op = "unlink" if unlink else "link"
        key = self.keys.problem(problem_id)
        text = f"incident {incident_id} {op}ed by {who}"
        entry = orjson.dumps({"at": now, "kind": op, "text": text, "by": who, "incident": incident_id})
        (result,) = await self.scripts.run_many("problem_link", [
            ([key, key + ":incidents", key + ":timeline"], [op, incident_id, repr(now), entry])])
        return result.decode() if isinstance(result, bytes) else str(result)

    async def symptoms(self, incident_id: str) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.keys.incident_symptoms(incident_id))
        return sorted((orjson.loads(v) for v in raw.values()), key=lambda s: (s["at"], s["fingerprint"]))
