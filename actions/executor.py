"""The seam between the runner and the executors: a prepared invocation in, an outcome out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Mapping

from rules.schema import Action

from actions.model import Outcome
from actions.templates import Renderer, Secrets


@dataclass(frozen=True, slots=True)
class Prepared:
    """An action rendered for one run: ``real`` goes to the executor, ``shown`` (secrets masked) to the audit."""

    real: dict[str, Any]
    shown: dict[str, Any]
    timeout: float


@dataclass(frozen=True, slots=True)
class Attempt:
    run_id: str
    attempt: int
    rule: str


class Executor(Protocol):
    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        """Render templates and resolve secrets; raises TemplateFailed or SecretMissing."""

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        """One attempt, bounded by ``prepared.timeout``; never raises for a failure of the target."""


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
