"""Every piece of action state, in Redis (any number of workers share it; nothing is kept in-process).

Claims (one run per run id), completed records, rate-limit windows, circuit breakers, approvals, due times
(approved runs, approval expiry, verification) and the audit stream. Each check-and-change is one Lua script,
so two workers can never both pass the same check. Key names come from the shell's keyspace (``ActionKeys``).
"""

from __future__ import annotations

from typing import Any, Protocol, cast
from collections.abc import Collection, Sequence

import orjson
from redis.asyncio import Redis

from actions.due_kinds import APPROVAL_EXPIRY, APPROVED
from actions.run_record import ActionRun
from kv.due import DueIndex, DueKeys

#: states after which a redelivered event changes nothing (pending/approved runs continue through the due index)
SETTLED = ("succeeded", "failed", "skipped", "rejected", "expired", "pending_approval", "approved")


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


# KEYS: run, claim; ARGV: owner, lease ms, resumable states (",running,"), then field/value pairs written when the
# run is first claimed. A run in a resumable state whose claim lapsed (its worker died) is claimed again.
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state and not string.find(ARGV[3], ',' .. state .. ',', 1, true) then return {'settled', state} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy', state or ''} end
if not state then
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], 'state', 'running')
return {'claimed', ''}
"""

# KEYS: run, claim; ARGV: owner, flat field/value pairs. Writes only while the claim is ours.
_FINISH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: one window per limit; ARGV: now, member, then (max, window) per key. All pass, or none is taken.
_RATE = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local max, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZSCORE', key, ARGV[2]) == false and redis.call('ZCARD', key) >= max then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000) + 1000)
end
return 0
"""

# KEYS: breaker; ARGV: now, trial lease. 1: closed; 2: half-open and this run is the one trial (leased, so a trial
# whose worker died lets another try after the lease); 0: open, or half-open with a trial under way.
_BREAKER_ALLOWS = """
local h = redis.call('HMGET', KEYS[1], 'open_until', 'trial_until')
local open_until = tonumber(h[1] or '0')
if open_until == 0 then return 1 end
local now = tonumber(ARGV[1])
if open_until > now then return 0 end
if tonumber(h[2] or '0') > now then return 0 end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[2]))
return 2
"""

# KEYS: breaker; ARGV: ok (1/0), threshold, cooldown, now. Returns 1 when this failure opened the breaker, 2 when
# it opened it again (the half-open trial failed), else 0.
# A success closes it. A failure while half-open (the trial's) opens it again at once for another cooldown; a
# failure of a run that started before it opened, finishing while it is open, changes nothing.
_BREAKER_RECORD = """
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) return 0 end
local now = tonumber(ARGV[4])
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until > now then return 0 end
local fails = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if open_until > 0 or fails >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[3]), 'failures', 0, 'trial_until', 0)
  if open_until > 0 then return 2 end
  return 1
end
return 0
"""

# KEYS: run; ARGV: decision (approved|rejected), who, now. Only a pending run can be decided.
_DECIDE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending_approval' then return state or '' end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3])
return 'ok'
"""

# KEYS: run; ARGV: expected state, new state, then flat field/value pairs
_TRANSITION = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


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
        self.due = DueIndex(redis, keys)  # the runs' due work (actions/due_kinds.py), fired by actions/due.py
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._rate = redis.register_script(_RATE)
        self._breaker_allows = redis.register_script(_BREAKER_ALLOWS)
        self._breaker_record = redis.register_script(_BREAKER_RECORD)
        self._decide = redis.register_script(_DECIDE)
        self._transition = redis.register_script(_TRANSITION)

    # -- runs --------------------------------------------------------------------------------------------------

    async def claim(self, run_id: str, owner: str, lease: float, run: ActionRun | None = None,
                    resumable: Sequence[str] = ("running",)) -> tuple[str, str]:
        """('claimed', ''), ('busy', state) while another worker holds it, or ('settled', state). A run not stored
        yet is stored as ``run`` (and indexed by its ``created_at``); ``None``: resume a stored run as it is."""
        k = self.keys
        fields = [text for pair in run.stored().items() for text in pair] if run is not None else []
        status, state = await self._claim(keys=[k.action_run(run_id), k.action_claim(run_id)],
                                          args=[owner, int(lease * 1000), "," + ",".join(resumable) + ",", *fields])
        if status == b"claimed" and run is not None and run.created_at is not None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(k.action_runs, {run_id: run.created_at}, nx=True)
            index = k.problem_runs(run.problem) if run.problem else k.incident_runs(run.incident or "")
            pipe.zadd(index, {run_id: run.created_at}, nx=True)
            await pipe.execute()
        return status.decode(), state.decode()

    async def finish(self, run_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """Write the run's settled record and release the claim (only if the claim is still ours)."""
        k = self.keys
        return bool(await self._finish(keys=[k.action_run(run_id), k.action_claim(run_id)],
                                       args=[owner, *_flat(run_id, fields)]))

    async def transition(self, run_id: str, expected: str, new: str, fields: dict[str, Any] | None = None) -> bool:
        return bool(await self._transition(keys=[self.keys.action_run(run_id)],
                                           args=[expected, new, *_flat(run_id, fields or {})]))

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
        return int(await self._rate(keys=keys, args=args))

    async def breaker_allows(self, action: str, now: float, trial_lease: float = 60.0) -> bool:
        """Closed: yes. Open: no. After the cooldown (half-open): yes for one trial run at a time (for
        ``trial_lease`` seconds); its outcome closes the breaker or opens it again."""
        return bool(await self._breaker_allows(keys=[self.keys.action_breaker(action)], args=[now, trial_lease]))

    async def breaker_record(self, action: str, ok: bool, threshold: int, cooldown: float, now: float) -> int:
        """Count a run's outcome: 1 when this failure opened the breaker, 2 when it opened it again (the trial after
        the cooldown failed), else 0."""
        return int(await self._breaker_record(keys=[self.keys.action_breaker(action)],
                                               args=[1 if ok else 0, threshold, cooldown, now]))

    async def decide(self, run_id: str, decision: str, who: str, now: float) -> str:
        """Approve or reject a pending run: 'ok', or the state it was in instead."""
        result = (await self._decide(keys=[self.keys.action_run(run_id)], args=[decision, who, now])).decode()
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
