"""The action runner: an incident or problem event in, the actions its rule names run (or skipped, with why).

For each planned run: claim it (one run per run id, whatever redeliveries or workers), render its inputs, then
the chain of checks (``actions/stages``, in order: shadow mode, dry run, circuit breaker, rate limits, approval;
the first that does not proceed settles or holds the run). A run that passes is executed one attempt at a time: an
attempt that fails retryably with attempts left leaves the run ``retrying`` and schedules its next attempt as a
``retry`` timer on the due-time service after the backoff (nothing waits in-process, and any worker runs it). Every
outcome is recorded on the incident's (a problem rule's run: the problem's) timeline, in the audit stream and in
metrics. Due work (approved runs, approval expiry, verification of incident runs, retries) is in ``due.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Awaitable, Callable, Mapping

import orjson
import structlog
from rules.action_schema import Retry
from rules.schema import Action, RuleSet

from actions.due_kinds import RETRY, VERIFY
from actions.executor import Attempt, Executor, Prepared
from actions.model import (EscalationStepEvent, IncidentEvent, MalformedEvent, Outcome, Planned, ProblemEvent,
                           parse_event)
from actions.run_record import ActionRun
from actions.stages.base import RunContext
from actions.stages.chain import Chain, checks
from actions.state import ActionState
from actions.templates import Renderer, SecretMissing, Secrets, TemplateFailed, context
from actions.triggers import KINDS, CurrentActionIndex, escalation_run, planned_runs, problem_runs

log = structlog.get_logger("stormwatch.actions")

class IncidentSource(Protocol):
    """What the runner needs from the incident store (the shell implements it)."""

    async def alerts(self, incident_id: str) -> list[dict[str, Any]]: ...
    async def incident(self, incident_id: str) -> dict[str, Any] | None: ...
    async def escalate(self, incident_id: str, because: str, now: float) -> None: ...


class ActionObserver(Protocol):
    def started(self, action_type: str) -> None: ...
    def finished(self, action_type: str, ok: bool, seconds: float) -> None: ...
    def skipped(self, action_type: str, reason: str) -> None: ...
    def retrying(self, action: str) -> None: ...


@dataclass(frozen=True)
class RunnerConfig:
    shadow: bool = False  # record what would run, run nothing
    fleet_max: int = 0  # runs of any action per fleet_window across all workers (0: no limit)
    fleet_window: float = 60.0
    claim_margin: float = 30.0  # a claim's lease = one attempt's longest duration + this
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
        self.checks: Chain = checks(state, self.renderer, shadow=config.shadow, fleet_max=config.fleet_max,
                                    fleet_window=config.fleet_window)

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
        if isinstance(event, EscalationStepEvent):
            return await self.handle_escalation_step(event)
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

    async def handle_escalation_step(self, event: EscalationStepEvent) -> list[str]:
        """Start the action an escalation step names (``incident.escalation_step``): one run per (incident, policy,
        step, run), through the same claim, checks (shadow, dry run, breaker, rate limits, approval), retries and
        audit as any run. Templates see the event's ``escalation`` as ``event.escalation``."""
        rule_set = self.rules()
        if rule_set is None:
            return []
        defined = {a.name: a for a in rule_set.actions}
        plan = escalation_run(defined, event)
        if plan is None:
            log.warning("escalation_action_undefined", incident_id=event.incident.id, action=event.escalation.action,
                        event_id=event.event_id)
            return []
        alerts = await self.incidents.alerts(event.incident.id)
        ctx = event.model_dump(mode="json") | {"alerts": alerts}
        return [await self.start(plan, defined[plan.action], ctx)]

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
        run = ActionRun.new(run_id=plan.run_id, incident="" if problem else subject["id"], action=action.name,
                            type=action.type, rule=subject.get("rule", ""), trigger=plan.trigger,
                            event_id=saved["event_id"], event_at=saved.get("at") or 0.0, created_at=now,
                            **({"problem": problem["id"]} if problem else {}),
                            **({"saves": action.saves} if action.saves is not None else {}))
        while True:
            status, state = await self.state.claim(plan.run_id, self.owner, self.lease(action), run)
            if status == "settled":
                return state
            if status == "claimed":
                break
            await self.sleep(self.config.busy_poll)  # another worker runs it: wait until it settles or lapses
        return await self._checked(run, action, saved, now)

    def lease(self, action: Action) -> float:
        """A claim's lease: one attempt's longest duration plus the margin (the backoff between attempts is a due
        timer, outside any claim)."""
        return getattr(action.config, "timeout", 60.0) + 5 + self.config.claim_margin

    def longest(self, action: Action) -> float:
        """The run's longest duration, every attempt and the backoffs between them, plus the margin: how long a
        half-open breaker's trial run holds the trial."""
        timeout = getattr(action.config, "timeout", 60.0)
        r = action.retry
        return r.attempts * (timeout + 5) + r.attempts * r.max_backoff + self.config.claim_margin

    async def _checked(self, run: ActionRun, action: Action, saved: dict[str, Any], now: float) -> str:
        """Prepare the run's inputs (failing: settled ``failed``), ask the chain, then execute what it lets through."""
        secrets = Secrets(self.environ)
        ctx = context(saved, saved.get("alerts") or [], action.name)
        try:
            prepared = self.executors[action.type].prepare(action, ctx, self.renderer, secrets)
        except (TemplateFailed, SecretMissing) as exc:
            self.observer.started(action.type)
            self.observer.finished(action.type, False, 0.0)
            return await self._settle(run, "failed", now, detail=secrets.scrub(str(exc)), reason="inputs")
        inputs = secrets.scrub_data(prepared.shown)
        verdict = await self.checks.check(RunContext(run, action, saved, ctx, inputs, now, self.longest(action)))
        if verdict.outcome == "proceed":
            return await self.execute(run, action, prepared, secrets, saved)
        self.observer.skipped(action.type, verdict.reason or "")
        return await self._settle(run, verdict.settle, now, inputs=inputs, **verdict.fields, reason=verdict.reason,
                                  detail=verdict.detail)

    # -- running -----------------------------------------------------------------------------------------------

    async def execute(self, run: ActionRun, action: Action, prepared: Prepared, secrets: Secrets,
                      saved: Mapping[str, Any], attempt: int = 1) -> str:
        """Make one attempt of a claimed run (``attempt``: its number; a later one continues ``run`` as stored) and
        record it: settled (succeeded, failed, or the last attempt), or ``retrying`` with its next attempt a
        ``retry`` timer after the backoff (retryable failures only). ``saved``: the event context, kept on a
        retrying run so any worker can render the next attempt's inputs again."""
        executor = self.executors[action.type]
        if attempt == 1:
            self.observer.started(action.type)
        later = attempt > 1
        started_at = run.started_at if later and run.started_at is not None else self.clock()
        t0 = time.perf_counter()
        try:
            outcome = await asyncio.wait_for(
                executor.run(prepared, Attempt(run.run_id, attempt, run.rule or "")), prepared.timeout + 5)
        except TimeoutError:
            outcome = Outcome(False, f"timed out after {prepared.timeout}s", retryable=True)
        except Exception as exc:  # noqa: BLE001 - an executor bug fails the run, never the worker
            log.error("action_executor_crashed", run_id=run.run_id, error=secrets.scrub(repr(exc)))
            outcome = Outcome(False, f"executor error: {type(exc).__name__}")
        # the attempts' time, summed (the backoffs between them are not the action's)
        duration = time.perf_counter() - t0 + ((run.duration or 0) if later else 0)
        now = self.clock()
        recorded = {"inputs": secrets.scrub_data(prepared.shown), "attempt": attempt, "duration": round(duration, 6),
                    "started_at": started_at, "detail": secrets.scrub(outcome.detail),
                    "output": secrets.scrub_data(outcome.output), "retryable": outcome.retryable}
        if not outcome.ok and outcome.retryable and attempt < action.retry.attempts:
            return await self._retry_later(run, action, saved, now, recorded)
        opened = await self.state.breaker_record(action.name, outcome.ok, action.breaker.failures,
                                                 action.breaker.cooldown, now)
        extra: dict[str, Any] = {}
        if outcome.ok and action.verify is not None and not run.problem:  # verify: incidents only
            extra["verify_at"] = now + action.verify.within
            await self.state.schedule(VERIFY, run.run_id, extra["verify_at"])
        self.observer.finished(action.type, outcome.ok, duration)
        state = await self._settle(run, "succeeded" if outcome.ok else "failed", now, **recorded, **extra)
        if opened:
            why = ("the trial run after its cooldown failed" if opened == 2
                   else f"{action.breaker.failures} consecutive failures")
            text = (f"circuit breaker for action {action.name} opened after {why}; runs are skipped for "
                    f"{action.breaker.cooldown:g}s, then one trial run decides")
            log.warning("action_breaker_opened", action=action.name, incident_id=run.incident or "",
                        problem_id=run.problem)
            audit = {"at": now, "outcome": "breaker_opened", "action": action.name, "incident": run.incident or "",
                     "rule": run.rule or ""} | ({"problem": run.problem} if run.problem else {})
            await self.state.record(run.incident or "", {"at": now, "kind": "action", "text": text,
                                                         "action": action.name}, audit,
                                    problem_id=run.problem or "")
        return state

    async def _retry_later(self, run: ActionRun, action: Action, saved: Mapping[str, Any], now: float,
                           recorded: dict[str, Any]) -> str:
        """The attempt failed retryably and attempts are left: the run is left ``retrying`` (its claim released) and
        its ``retry`` timer moved to ``retry_at``. In three steps, since the timer and the run are in different
        slots:

        1. the timer, due when this attempt's claim has lapsed: stopped before step 2, the run stays ``running``
           and the timer finds it once nobody holds it (``due.py``), so no ``retrying`` run is ever left without a
           timer;
        2. the ``retrying`` record, only while the claim is ours;
        3. the timer at ``retry_at``: due only now that the record says ``retrying`` (a timer due before the record
           would find the run still ``running`` under this claim, and wait out its lease)."""
        retry_at = now + backoff(action.retry, recorded["attempt"])
        await self.state.schedule(RETRY, run.run_id, now + self.lease(action))
        self.observer.retrying(action.name)
        fields = {**recorded, "retry_at": retry_at, "saved": dict(saved)}
        if await self._write(run, "retrying", now, fields):
            await self.state.schedule(RETRY, run.run_id, retry_at)
            await self.record(run, "retrying", now, fields)
        return "retrying"

    # -- recording ---------------------------------------------------------------------------------------------

    async def _settle(self, run: ActionRun, state: str, now: float, **fields: Any) -> str:
        """Write the run's record in a state it is left in (settled, held or retrying) and release the claim, then
        its timeline and audit entries."""
        if await self._write(run, state, now, fields):
            await self.record(run, state, now, fields)
        return state

    async def _write(self, run: ActionRun, state: str, now: float, fields: Mapping[str, Any]) -> bool:
        """The run's record in ``state``, the claim released, only while the claim is ours; False when it was not."""
        finished = {} if state == "retrying" else {"finished_at": now}  # a retrying run is not finished
        if await self.state.finish(run.run_id, self.owner, {"state": state, **finished, **fields}):
            return True
        log.warning("action_claim_lost", run_id=run.run_id, action=run.action or "")  # another worker took the run
        return False  # over when our claim lapsed: it records the outcome

    async def record(self, run: ActionRun, state: str, now: float, fields: Mapping[str, Any]) -> None:
        """The run's timeline entry (on its incident's, a problem run's: its problem's timeline) and audit entry.
        ``state`` may be a verdict that is not a state (``remediated``, ``escalated``)."""
        detail = fields.get("detail", "")
        attempt = fields.get("attempt")
        action, kind, incident = run.action or "", run.type or "", run.incident or ""
        text = f"action {action} ({kind}) {state}"
        if attempt:
            text += f" after {attempt} attempt{'s' if attempt > 1 else ''} in {fields.get('duration', 0):.3f}s"
        if detail:
            text += f": {detail}"
        if state == "retrying" and attempt:
            text += f"; attempt {attempt + 1} in {fields['retry_at'] - now:.3g}s"
        entry = {"at": now, "kind": "action", "text": text, "run_id": run.run_id, "action": action, "state": state}
        audit = {"at": now, "run_id": run.run_id, "incident": incident, "action": action, "type": kind,
                 "rule": run.rule or "", "trigger": run.trigger or "", "event_id": run.event_id or "",
                 "outcome": state,
                 **{k: v for k, v in fields.items() if k in ("reason", "detail", "inputs", "attempt", "duration",
                                                             "output", "started_at", "decided_by",
                                                             "retry_at")}}
        if run.problem:
            audit["problem"] = run.problem
        await self.state.record(incident, entry, audit, problem_id=run.problem or "")
        log.info("action_" + state, run_id=run.run_id, action=action, incident_id=incident, problem_id=run.problem,
                 reason=fields.get("reason"), detail=detail)


def backoff(retry: Retry, attempt: int) -> float:
    """Seconds between a failed attempt (1, 2, ...) and the next: exponential from ``backoff``, at most
    ``max_backoff``."""
    return float(min(retry.max_backoff, retry.backoff * 2 ** (attempt - 1)))
