"""The action runner: an incident or problem event in, the actions its rule names run (or skipped, with why).

For each planned run: claim it (one run per run id, whatever redeliveries or workers), render its inputs, then
the safety checks in order: shadow mode, dry run, circuit breaker, rate limits, approval. A run that passes is
executed with retries for retryable failures only, and every outcome is recorded on the incident's (a problem
rule's run: the problem's) timeline, in the audit stream and in metrics. Due work (approved runs, approval
expiry, verification of incident runs) is in ``due.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol

import orjson
import structlog
from rules.schema import Action, RuleSet

from actions.executor import Attempt, Executor, Prepared
from actions.model import IncidentEvent, MalformedEvent, Outcome, Planned, ProblemEvent, parse_event
from actions.state import ActionState
from actions.templates import Renderer, SecretMissing, Secrets, TemplateFailed, context
from actions.triggers import KINDS, CurrentActionIndex, planned_runs, problem_runs

log = structlog.get_logger("stormwatch.actions")

FLEET = "*fleet*"  # the rate-limit window shared by every action

class IncidentSource(Protocol):
    """What the runner needs from the incident store (the shell implements it)."""

    async def alerts(self, incident_id: str) -> list[dict[str, Any]]: ...
    async def incident(self, incident_id: str) -> dict[str, Any] | None: ...
    async def escalate(self, incident_id: str, because: str, now: float) -> None: ...


class ActionObserver(Protocol):
    def started(self, action_type: str) -> None: ...
    def finished(self, action_type: str, ok: bool, seconds: float) -> None: ...
    def skipped(self, action_type: str, reason: str) -> None: ...


@dataclass(frozen=True)
class RunnerConfig:
    shadow: bool = False  # record what would run, run nothing
    fleet_max: int = 0  # runs of any action per fleet_window across all workers (0: no limit)
    fleet_window: float = 60.0
    claim_margin: float = 30.0  # lease = the action's longest possible run + this
    busy_poll: float = 0.05  # while another worker holds a run's claim


class ActionRunner:
    def __init__(self, state: ActionState, rules: Callable[[], RuleSet | None], executors: Mapping[str, Executor],
                 incidents: IncidentSource, observer: ActionObserver, clock: Callable[[], float],
                 config: RunnerConfig = RunnerConfig(), sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 environ: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.rules = rules
        self.executors = executors
        self.incidents = incidents
        self.observer = observer
        self.clock = clock
        self.config = config
        self.sleep = sleep
        self.environ = os.environ if environ is None else environ
        self.renderer = Renderer()
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._actions = CurrentActionIndex(rules)

    # -- events ----------------------------------------------------------------------------------------------

    async def handle(self, body: bytes) -> list[str]:
        """One event message; raises MalformedEvent for input that can never be used."""
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedEvent("invalid_json", str(exc)) from None
        if self._nothing_to_do(raw):
            return []  # the hot path in a storm: most events' rules start nothing for them
        event = parse_event(raw)
        if isinstance(event, ProblemEvent):
            return await self.handle_problem_event(event)
        return await self.handle_event(event)

    def _nothing_to_do(self, raw: Any) -> bool:
        """True only for a well-formed event whose rule starts no action for its kind (a cheap look first; anything
        else is parsed, and dead-lettered with a reason if it is malformed)."""
        try:
            subject, _, kind = raw["type"].partition(".")
            body = raw[subject]
            well_formed = (kind in KINDS.get(subject, ()) and isinstance(raw["event_id"], str) and raw["event_id"]
                           and isinstance(body["id"], str) and isinstance(body["rule"], str))
        except (KeyError, TypeError, AttributeError):
            return False
        return bool(well_formed) and not self._actions(raw)

    async def handle_event(self, event: IncidentEvent) -> list[str]:
        """Start what the incident's rule names for this event; returns each run's state."""
        rule_set = self.rules()
        if rule_set is None:
            return []
        if event.kind not in self._actions.index().starts_on("incident", event.incident.rule):
            return []
        rule = next((g for g in rule_set.groups if g.name == event.incident.rule), None)
        defined = {a.name: a for a in rule_set.actions}
        plans = planned_runs(rule.actions, defined, event) if rule is not None else []
        if not plans:
            return []
        alerts = await self.incidents.alerts(event.incident.id)
        ctx = event.model_dump(mode="json") | {"alerts": alerts}
        return list(await asyncio.gather(*(self.start(p, defined[p.action], ctx) for p in plans)))

    async def handle_problem_event(self, event: ProblemEvent) -> list[str]:
        """Start what the problem's rule names for this event; returns each run's state.

        Templates see the ``problem``, and as ``incident`` (with its ``alerts``) the incident that opened it, as
        the store has it now (only its id if the store no longer has it; ``{}`` if the event names none)."""
        rule_set = self.rules()
        if rule_set is None:
            return []
        rule = next((p for p in rule_set.problems if p.name == event.problem.rule), None)
        defined = {a.name: a for a in rule_set.actions}
        plans = problem_runs(rule.actions, defined, event) if rule is not None else []
        if not plans:
            return []
        opened = event.problem.opened_by
        incident: dict[str, Any] = {}
        alerts: list[dict[str, Any]] = []
        if opened:
            incident = await self.incidents.incident(opened) or {"id": opened}
            alerts = await self.incidents.alerts(opened)
        ctx = event.model_dump(mode="json") | {"incident": incident, "alerts": alerts}
        return list(await asyncio.gather(*(self.start(p, defined[p.action], ctx) for p in plans)))

    async def start(self, plan: Planned, action: Action, saved: dict[str, Any]) -> str:
        """Claim the run (or find it settled) and take it through the checks; returns its state."""
        now = self.clock()
        problem = saved.get("problem")
        subject = problem or saved["incident"]
        record = {"run_id": plan.run_id, "incident": "" if problem else subject["id"], "action": action.name,
                  "type": action.type, "rule": subject.get("rule", ""), "trigger": plan.trigger,
                  "event_id": saved["event_id"], "event_at": saved.get("at") or 0.0, "created_at": now}
        if problem:
            record["problem"] = problem["id"]
        while True:
            status, state = await self.state.claim(plan.run_id, self.owner, self.lease(action), record)
            if status == "settled":
                return state
            if status == "claimed":
                break
            await self.sleep(self.config.busy_poll)  # another worker runs it: wait until it settles or lapses
        return await self._checked(record, action, saved, now)

    def lease(self, action: Action) -> float:
        timeout = getattr(action.config, "timeout", 60.0)
        r = action.retry
        return r.attempts * (timeout + 5) + r.attempts * r.max_backoff + self.config.claim_margin

    async def _checked(self, record: dict[str, Any], action: Action, saved: dict[str, Any], now: float) -> str:
        secrets = Secrets(self.environ)
        ctx = context(saved, saved.get("alerts") or [], action.name)
        try:
            prepared = self.executors[action.type].prepare(action, ctx, self.renderer, secrets)
        except (TemplateFailed, SecretMissing) as exc:
            self.observer.started(action.type)
            self.observer.finished(action.type, False, 0.0)
            return await self._settle(record, "failed", now, detail=secrets.scrub(str(exc)), reason="inputs")
        inputs = secrets.scrub_data(prepared.shown)
        if self.config.shadow:
            return await self._skip(record, "shadow", now, inputs, "shadow mode: recorded, not run")
        if action.dry_run:
            return await self._skip(record, "dry_run", now, inputs, "dry run: recorded, not run")
        if not await self.state.breaker_allows(action.name, now, self.lease(action)):
            return await self._skip(record, "breaker", now, inputs, "circuit breaker open")
        limits = [(action.name, self._rate_key(rl.per, ctx), rl.max, rl.window) for rl in action.rate_limit]
        if self.config.fleet_max:
            limits.append((FLEET, "all", self.config.fleet_max, self.config.fleet_window))
        full = await self.state.take_rate(limits, record["run_id"], now)
        if full:
            which = limits[full - 1]
            what = "fleet-wide" if which[0] == FLEET else f"per {action.rate_limit[full - 1].per or 'action'}"
            return await self._skip(record, "rate_limit", now, inputs,
                                    f"rate limit {what}: {which[2]} per {which[3]:g}s reached")
        if action.approval == "required":
            return await self._await_approval(record, action, saved, inputs, now)
        return await self.execute(record, action, prepared, secrets)

    def _rate_key(self, per: str, ctx: Mapping[str, Any]) -> str:
        if not per:
            return "all"
        return hashlib.blake2b(self.renderer.render(per, ctx).encode(), digest_size=8).hexdigest()

    async def _await_approval(self, record: dict[str, Any], action: Action, saved: dict[str, Any],
                              inputs: dict[str, Any], now: float) -> str:
        expires = now + action.approval_expires
        await self.state.schedule(f"expire:{record['run_id']}", expires)
        self.observer.skipped(action.type, "approval_pending")
        return await self._settle(record, "pending_approval", now, inputs=inputs, saved=saved, expires_at=expires,
                                  reason="approval_pending", detail=f"waiting for approval until {expires:.0f} "
                                  f"(stormwatch actions approve {record['run_id']})")

    # -- running -----------------------------------------------------------------------------------------------

    async def execute(self, record: dict[str, Any], action: Action, prepared: Prepared, secrets: Secrets) -> str:
        """Run with retries (retryable failures only, exponential backoff); record the outcome."""
        executor = self.executors[action.type]
        self.observer.started(action.type)
        started_at = self.clock()
        t0 = time.perf_counter()
        retry = action.retry
        outcome = Outcome(False, "not run")
        attempt = 0
        for attempt in range(1, retry.attempts + 1):
            try:
                outcome = await asyncio.wait_for(
                    executor.run(prepared, Attempt(record["run_id"], attempt, record["rule"])), prepared.timeout + 5)
            except asyncio.TimeoutError:
                outcome = Outcome(False, f"timed out after {prepared.timeout}s", retryable=True)
            except Exception as exc:  # noqa: BLE001 - an executor bug fails the run, never the worker
                log.error("action_executor_crashed", run_id=record["run_id"], error=secrets.scrub(repr(exc)))
                outcome = Outcome(False, f"executor error: {type(exc).__name__}")
            if outcome.ok or not outcome.retryable or attempt == retry.attempts:
                break
            await self.sleep(min(retry.max_backoff, retry.backoff * 2 ** (attempt - 1)))
        duration = time.perf_counter() - t0
        now = self.clock()
        opened = await self.state.breaker_record(action.name, outcome.ok, action.breaker.failures,
                                                 action.breaker.cooldown, now)
        extra: dict[str, Any] = {}
        if outcome.ok and action.verify is not None and not record.get("problem"):  # verify: incidents only
            extra["verify_at"] = now + action.verify.within
            await self.state.schedule(f"verify:{record['run_id']}", extra["verify_at"])
        self.observer.finished(action.type, outcome.ok, duration)
        state = await self._settle(
            record, "succeeded" if outcome.ok else "failed", now, inputs=secrets.scrub_data(prepared.shown),
            attempt=attempt, duration=round(duration, 6), started_at=started_at, detail=secrets.scrub(outcome.detail),
            output=secrets.scrub_data(outcome.output), retryable=outcome.retryable, **extra)
        if opened:
            why = ("the trial run after its cooldown failed" if opened == 2
                   else f"{action.breaker.failures} consecutive failures")
            text = (f"circuit breaker for action {action.name} opened after {why}; runs are skipped for "
                    f"{action.breaker.cooldown:g}s, then one trial run decides")
            log.warning("action_breaker_opened", action=action.name, incident_id=record["incident"],
                        problem_id=record.get("problem"))
            audit = {"at": now, "outcome": "breaker_opened", "action": action.name, "incident": record["incident"],
                     "rule": record["rule"]} | ({"problem": record["problem"]} if record.get("problem") else {})
            await self.state.record(record["incident"], {"at": now, "kind": "action", "text": text,
                                                         "action": action.name}, audit,
                                    problem_id=record.get("problem", ""))
        return state

    # -- recording ---------------------------------------------------------------------------------------------

    async def _skip(self, record: dict[str, Any], reason: str, now: float, inputs: dict[str, Any], detail: str
                    ) -> str:
        self.observer.skipped(record["type"], reason)
        return await self._settle(record, "skipped", now, inputs=inputs, reason=reason, detail=detail)

    async def _settle(self, record: dict[str, Any], state: str, now: float, **fields: Any) -> str:
        """Write the run's settled record (releasing the claim), then its timeline and audit entries."""
        written = await self.state.finish(record["run_id"], self.owner, {"state": state, "finished_at": now, **fields})
        if not written:  # our claim lapsed and another worker took the run over: it records the outcome
            log.warning("action_claim_lost", run_id=record["run_id"], action=record["action"])
            return state
        await self.record(record, state, now, fields)
        return state

    async def record(self, record: dict[str, Any], state: str, now: float, fields: dict[str, Any]) -> None:
        detail = fields.get("detail", "")
        attempt = fields.get("attempt")
        text = f"action {record['action']} ({record['type']}) {state}"
        if attempt:
            text += f" after {attempt} attempt{'s' if attempt > 1 else ''} in {fields.get('duration', 0):.3f}s"
        if detail:
            text += f": {detail}"
        entry = {"at": now, "kind": "action", "text": text, "run_id": record["run_id"], "action": record["action"],
                 "state": state}
        audit = {"at": now, "run_id": record["run_id"], "incident": record["incident"], "action": record["action"],
                 "type": record["type"], "rule": record["rule"], "trigger": record["trigger"],
                 "event_id": record.get("event_id"), "outcome": state,
                 **{k: v for k, v in fields.items() if k in ("reason", "detail", "inputs", "attempt", "duration",
                                                             "output", "started_at", "decided_by")}}
        if record.get("problem"):
            audit["problem"] = record["problem"]
        await self.state.record(record["incident"], entry, audit, problem_id=record.get("problem", ""))
        log.info("action_" + state, run_id=record["run_id"], action=record["action"], incident_id=record["incident"],
                 problem_id=record.get("problem"), reason=fields.get("reason"), detail=detail)
