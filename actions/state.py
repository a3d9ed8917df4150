"""Every piece of action state, in Redis (any number of workers share it; nothing is kept in-process).

Claims (one run per run id), completed records, rate-limit windows, circuit breakers, approvals, due times
(approved runs, approval expiry, verification, retries) and the audit stream. Each check-and-change is one Lua
script (``actions/lua/``, loaded by ``kv.scripts``; the due index's are ``kv/lua/``), so two workers can never both
pass the same check. Key names come from the shell's keyspace (``ActionKeys``).
"""

from __future__ import annotations

from typing import Any, Protocol, cast
from collections.abc import Collection, Sequence

import orjson
from redis.asyncio import Redis

from actions.due_kinds import APPROVAL_EXPIRY, APPROVED
from actions.run_record import ActionRun
from kv.due import DueIndex, DueKeys
from kv.scripts import Scripts

#: states after which a redelivered event changes nothing (pending, approved and retrying runs continue through the
#: due index)
SETTLED = ("succeeded", "failed", "skipped", "rejected", "expired", "pending_approval", "approved", "retrying")


class ActionKeys(DueKeys, Protocol):
    def action_run(self, run_id: str) -> str: ...
    def action_claim(self, run_id: str) -> str: ...
    def action_rate(self, action: str, key: str) -> str: ...
    def action_breaker(self, action: str) -> str: ...
    def action_result(self, correlation_id: str) -> str: ...
    def incident_runs(self, incident_id: str) -> str: ...
    def incident_timeline(self, incident_id: str) -> str: ...
    def problem_runs(self, problem_id: str) -> str: ...
    def problem_timeline(self, problem_id: str) -> str: ...
    @property
    def action_runs(self) -> str: ...
    @property
    def audit(self) -> str: ...


def _flat(run_id: str, fields: dict[str, Any]) -> list[str]:
    """A write's field/value pairs: each field checked against its type in the run record, rendered as stored."""
    out: list[str] = []
    for k, v in ActionRun.fields(run_id, **fields).items():
        out += [k, v]
    return out


def decode(raw: dict[Any, Any]) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


class ActionState:
    def __init__(self, redis: Redis, keys: ActionKeys, *, timeline_max: int = 1000, audit_max: int = 100_000) -> None:
        self.redis = redis
        self.keys = keys
        self.timeline_max = timeline_max
        self.audit_max = audit_max
        self.scripts = Scripts(redis, "actions", "claim_run", "claim_retry", "finish_run", "transition_run",
                               "rate_limit", "breaker_allows", "breaker_record", "decide_approval")
        self.due = DueIndex(redis, keys)  # the runs' due work (actions/due_kinds.py), fired by actions/due.py

    # -- runs --------------------------------------------------------------------------------------------------

    async def claim(self, run_id: str, owner: str, lease: float, run: ActionRun | None = None,
                    resumable: Sequence[str] = ("running",)) -> tuple[str, str]:
        """('claimed', ''), ('busy', state) while another worker holds it, or ('settled', state). A run not stored
        yet is stored as ``run`` (and indexed by its ``created_at``); ``None``: resume a stored run as it is."""
        k = self.keys
        fields = [text for pair in run.stored().items() for text in pair] if run is not None else []
        status, state = await self.scripts.run("claim_run", [k.action_run(run_id), k.action_claim(run_id)],
                                               [owner, int(lease * 1000), "," + ",".join(resumable) + ",", *fields])
        if status == b"claimed" and run is not None and run.created_at is not None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(k.action_runs, {run_id: run.created_at}, nx=True)
            index = k.problem_runs(run.problem) if run.problem else k.incident_runs(run.incident or "")
            pipe.zadd(index, {run_id: run.created_at}, nx=True)
            await pipe.execute()
        return status.decode(), state.decode()

    async def claim_retry(self, run_id: str, owner: str, lease: float, attempt: int | None) -> str:
        """Claim a retrying run for its next attempt (or a running one whose claim lapsed): 'claimed', 'busy' while
        another worker holds it, or 'settled' when it settled or another attempt than ``attempt`` (the last one the
        caller read) was recorded since."""
        k = self.keys
        status, _ = await self.scripts.run("claim_retry", [k.action_run(run_id), k.action_claim(run_id)],
                                           [owner, int(lease * 1000), "" if attempt is None else str(attempt)])
        return str(status.decode())

    async def finish(self, run_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """Write the run's settled record and release the claim (only if the claim is still ours)."""
        k = self.keys
        return bool(await self.scripts.run("finish_run", [k.action_run(run_id), k.action_claim(run_id)],
                                           [owner, *_flat(run_id, fields)]))

    async def transition(self, run_id: str, expected: str, new: str, fields: dict[str, Any] | None = None) -> bool:
        return bool(await self.scripts.run("transition_run", [self.keys.action_run(run_id)],
                                           [expected, new, *_flat(run_id, fields or {})]))

    async def load(self, run_id: str) -> ActionRun | None:
        """One run, typed."""
        raw = await self.redis.hgetall(self.keys.action_run(run_id))
        return ActionRun.from_stored(decode(raw)) if raw else None

    async def load_many(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None,
                        states: Collection[str] = (), most: int | None = None) -> list[ActionRun]:
        """Runs newest first, typed (``stored_many`` for what they answer)."""
        found = await self.stored_many(incident_id, limit, problem_id, states, most)
        return [ActionRun.from_stored(h) for h in found]

    async def stored_many(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None,
                          states: Collection[str] = (), most: int | None = None) -> list[dict[str, str]]:
        """Runs newest first, each as stored: the API's and the CLI's answer, what ``ActionRun.public()`` of each
        would give, without building a typed record per run (~40 us each, too much for a list on the event loop):
        all, an incident's, or a problem's. ``states``: only runs in one of them, at most ``most`` of them
        (``limit`` bounds how many newest runs are read)."""
        if problem_id:
            index = self.keys.problem_runs(problem_id)
        else:
            index = self.keys.incident_runs(incident_id) if incident_id else self.keys.action_runs
        ids = [i.decode() for i in cast(list[bytes], await self.redis.zrevrange(index, 0, limit - 1))]  # bytes client
        pipe = self.redis.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self.keys.action_run(rid))
        found = [decode(h) for h in await pipe.execute() if h]
        if states:
            found = [h for h in found if h.get("state") in states]
        return found[:most]

    async def run(self, run_id: str) -> dict[str, str] | None:
        """One run as the API and the CLI show it (exactly as stored)."""
        run = await self.load(run_id)
        return run.public() if run is not None else None

    async def runs(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None
                   ) -> list[dict[str, str]]:
        """Runs newest first, as the API and the CLI show them (exactly as stored)."""
        return await self.stored_many(incident_id, limit, problem_id)

    # -- policies --------------------------------------------------------------------------------------------

    async def take_rate(self, limits: Sequence[tuple[str, str, int, float]], member: str, now: float) -> int:
        """Take a slot in every (action, key, max, window) window, or none: 0, or the 1-based limit that is full."""
        if not limits:
            return 0
        keys = [self.keys.action_rate(action, key) for action, key, _, _ in limits]
        args: list[Any] = [now, member]
        for _, _, most, window in limits:
            args += [most, window]
        return int(await self.scripts.run("rate_limit", keys, args))

    async def breaker_allows(self, action: str, now: float, trial_lease: float = 60.0) -> bool:
        """Closed: yes. Open: no. After the cooldown (half-open): yes for one trial run at a time (for
        ``trial_lease`` seconds); its outcome closes the breaker or opens it again."""
        return bool(await self.scripts.run("breaker_allows", [self.keys.action_breaker(action)], [now, trial_lease]))

    async def breaker_record(self, action: str, ok: bool, threshold: int, cooldown: float, now: float) -> int:
        """Count a run's outcome: 1 when this failure opened the breaker, 2 when it opened it again (the trial after
        the cooldown failed), else 0."""
        return int(await self.scripts.run("breaker_record", [self.keys.action_breaker(action)],
                                          [1 if ok else 0, threshold, cooldown, now]))

    async def decide(self, run_id: str, decision: str, who: str, now: float) -> str:
        """Approve or reject a pending run: 'ok', or the state it was in instead."""
        result = (await self.scripts.run("decide_approval", [self.keys.action_run(run_id)],
                                         [decision, who, now])).decode()
        if result == "ok":
            # the due index is another slot: schedule after the decision; if this stops in between, the run's
            # expiry entry (removed last) finds it approved and schedules it then (actions/due.py)
            if decision == "approved":
                await self.schedule(APPROVED, run_id, now)
            await self.due.cancel(APPROVAL_EXPIRY, run_id)
            run = await self.load(run_id)
            assert run is not None
            text = f"action {run.action} ({run.type}) {decision} by {who}"
            audit = {"at": now, "run_id": run_id, "incident": run.incident, "action": run.action, "type": run.type,
                     "rule": run.rule, "trigger": run.trigger, "outcome": decision, "decided_by": who}
            if run.problem:
                audit["problem"] = run.problem
            await self.record(run.incident or "", {"at": now, "kind": "action", "text": text, "run_id": run_id,
                                                   "action": run.action, "state": decision}, audit,
                              problem_id=run.problem or "")
        return result

    # -- due times ---------------------------------------------------------------------------------------------

    async def schedule(self, kind: str, run_id: str, when: float) -> None:
        """A run's due work of a kind (actions/due_kinds.py) at ``when`` (again: it moves)."""
        await self.due.schedule(kind, run_id, when)

    # -- audit, timeline ---------------------------------------------------------------------------------------

    async def record(self, incident_id: str, timeline_entry: dict[str, Any], audit_entry: dict[str, Any],
                     problem_id: str = "") -> None:
        """One entry on the incident's (a problem run: the problem's) timeline and one in the audit stream."""
        pipe = self.redis.pipeline(transaction=False)
        tk = self.keys.problem_timeline(problem_id) if problem_id else self.keys.incident_timeline(incident_id)
        pipe.rpush(tk, orjson.dumps(timeline_entry))
        pipe.ltrim(tk, -self.timeline_max, -1)
        pipe.xadd(self.keys.audit, {"entry": orjson.dumps(audit_entry)}, maxlen=self.audit_max, approximate=True)
        await pipe.execute()

    async def audit(self, count: int = 1000) -> list[dict[str, Any]]:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(self.keys.audit, count=count))
        return [orjson.loads(fields[b"entry"]) for _, fields in entries]

    async def put_result(self, correlation_id: str, reply: bytes, ttl: int = 86_400) -> None:
        await self.redis.set(self.keys.action_result(correlation_id), reply, ex=ttl)

    async def take_result(self, correlation_id: str) -> bytes | None:
        return cast(bytes | None, await self.redis.getdel(self.keys.action_result(correlation_id)))  # a bytes client
