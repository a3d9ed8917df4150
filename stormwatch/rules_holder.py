"""The running rule set of one process, and everything about changing it.

``RuleHolder`` loads the set ``STORMWATCH_RULES`` names (``none``, ``examples`` or a directory, each file under the
``STORMWATCH_RULES_MAX_*`` limits), reloads it on SIGHUP, on an API request or when the polled directory changes,
and validates a whole new set before it swaps it in: a refused set leaves the running one in place, counted and
logged with every error. Whoever builds on the rules (the router of a worker's pipeline) subscribes: it builds what
it needs from a new set beside the set itself (off the event loop for the API and the watcher) and swaps it in with
the set. It is what the API's ``RulesControl`` sees, and the metrics and log lines of the running set (source, rules
by kind, the action mode) come from it.

A worker (``stormwatch.app.Worker``) and the action runner alone (``serve --role actions``) each hold one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Callable

import structlog

from rules.schema import RuleSet
from stormwatch.config import Settings
from stormwatch.metrics import Metrics
from stormwatch.rules_admin import ACTION_MODES, rule_file_limits, rules_summary, validate_candidate
from stormwatch.rules_source import RulesInvalid, load_rules, rules_directory, rules_signature

log = structlog.get_logger("stormwatch")

#: given a new rule set, build what depends on it (touching nothing running: it may run in a thread) and return
#: the function that swaps that in (called on the loop, with the set's own swap)
Subscriber = Callable[[RuleSet | None], Callable[[], None]]
Built = tuple[RuleSet | None, list[Callable[[], None]]]


class RuleHolder:
    """One process's rule set: ``load()`` at start, then ``reload_rules()`` (SIGHUP, the API) and ``watch()``."""

    def __init__(self, settings: Settings, metrics: Metrics, *, runs_actions: bool) -> None:
        self.settings = settings
        self.metrics = metrics
        self.runs_actions = runs_actions  # said in the rules log lines: whether this process runs actions
        self.rule_set: RuleSet | None = None
        self._subscribers: list[Subscriber] = []
        self._watch: asyncio.Task[None] | None = None

    def load(self) -> RuleSet | None:
        """Read and validate the configured set (RulesInvalid listing every error); subscribers are not told."""
        self.rule_set = load_rules(self.settings.rules, rule_file_limits(self.settings))
        return self.rule_set

    def current(self) -> RuleSet | None:
        return self.rule_set

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(new_set)`` when a new set is built, and its answer when that set is swapped in."""
        self._subscribers.append(subscriber)

    # -- the API's RulesControl ---------------------------------------------------------------------------------

    def rules_summary(self) -> dict[str, Any]:
        return rules_summary(self.rule_set, self.settings.rules, shadow=self.settings.actions_shadow)

    async def reload_rules_checked(self) -> list[str]:
        """reload_rules, reading and checking the files off the event loop; every error of a refused set
        ([] when applied)."""
        errors: list[str] = []
        self._apply(await asyncio.to_thread(self._build), errors)
        return errors

    def validate_rule_file(self, name: str, text: str) -> list[str]:
        """Blocking (parses YAML): the API calls it in a thread."""
        setting = self.settings.rules
        return validate_candidate(None if setting == "none" else rules_directory(setting), name, text,
                                  rule_file_limits(self.settings))

    # -- changing the set ---------------------------------------------------------------------------------------

    def reload_rules(self, errors: list[str] | None = None) -> bool:
        """Build and validate the whole new rule set first; swap only if it is valid (the running set stays).

        A refused set's errors are appended to ``errors`` when given. Blocking: SIGHUP calls it on the loop (the
        limits on rule files bound its work); the API and the file watcher build in a thread."""
        return self._apply(self._build(), errors)

    def _build(self) -> Built | RulesInvalid:
        """The new rule set and its subscribers' swaps, or why not; touches nothing running (thread-safe)."""
        try:
            rule_set = load_rules(self.settings.rules, rule_file_limits(self.settings))
        except RulesInvalid as exc:
            return exc
        return rule_set, [subscriber(rule_set) for subscriber in self._subscribers]

    def _apply(self, built: Built | RulesInvalid, errors: list[str] | None) -> bool:
        if isinstance(built, RulesInvalid):
            self.metrics.rules_reloads.labels("refused").inc()
            log.error("rules_reload_refused", errors=str(built))
            if errors is not None:
                errors.extend(line.strip() for line in str(built).splitlines()[1:] if line.strip())
            return False
        rule_set, swaps = built
        self.rule_set = rule_set
        for swap in swaps:
            swap()
        self.metrics.rules_reloads.labels("applied").inc()
        self.report_rules("rules_reloaded")
        return True

    def report_rules(self, event: str) -> None:
        """One log line and the metrics for the running rule set: its source, rules by kind, the action mode, and
        whether this process runs actions."""
        summary = self.rules_summary()
        mode = summary["actions_mode"]
        policies = self.rule_set.escalation_policies if self.rule_set is not None else ()
        self.metrics.record_rules(summary["kinds"], mode["mode"], ACTION_MODES,
                                  [(p.name, n) for p in policies for n in range(1, len(p.steps) + 1)])
        log.info(event, source=summary["source"], **{f"{kind}_rules": n for kind, n in summary["kinds"].items()},
                 actions=mode["summary"],
                 actions_runner=self.runs_actions)

    # -- watching the directory ---------------------------------------------------------------------------------

    def start_watching(self) -> None:
        """Poll the rules directory every ``STORMWATCH_RULES_POLL_SECONDS`` (0 or ``none``: never)."""
        if self.settings.rules_poll_seconds > 0 and self.settings.rules != "none" and self._watch is None:
            self._watch = asyncio.create_task(self.watch(), name="stormwatch-rules-watch")

    def stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def watch(self) -> None:
        """Reload when a rule file changes (polling: no extra dependency, works on any filesystem)."""
        seen = rules_signature(self.settings.rules)
        while True:
            await asyncio.sleep(self.settings.rules_poll_seconds)
            current = rules_signature(self.settings.rules)
            if current != seen:
                seen = current
                self._apply(await asyncio.to_thread(self._build), None)
