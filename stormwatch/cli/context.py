"""What every CLI command runs in: its settings (a bad value exits 2 naming the variable), the event loop, and a
Redis-backed incident store for the commands that go straight to Redis."""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Callable, Coroutine

import typer

from stormwatch.cli.output import err
from stormwatch.config import Settings, SettingsError, load_settings, redact_url
from stormwatch.errors import REDIS_START_HINT, RulesInvalid, ServiceUnavailable
from stormwatch.logging import configure_logging


def settings(**overrides: Any) -> Settings:
    """The settings from the environment with the given non-None overrides; exit 2 naming a bad value."""
    try:
        loaded = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(loaded.log_format, loaded.log_level)
    return loaded


def examples_unless_chosen(settings: Settings) -> Settings:
    """The shipped example rules unless STORMWATCH_RULES names a rule set: the benchmarks' published figures were
    measured with them (``serve`` itself loads no rules by default)."""
    return settings if "rules" in settings.model_fields_set else settings.model_copy(update={"rules": "examples"})


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a command's coroutine; a service that is not answering exits 1, invalid rules exit 2, each with its
    message on stderr."""
    runner: Callable[[Coroutine[Any, Any, Any]], Any]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.run
    try:
        return runner(coro)
    except ServiceUnavailable as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except RulesInvalid as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


async def with_store(fn: Any) -> Any:
    """``await fn(store)`` with an IncidentStore on the namespace's Redis (ServiceUnavailable when it is down)."""
    from correlation.store.keyspace import Keyspace
    from correlation.store.store import IncidentStore
    from stormwatch.redis_client import redis_client

    s = settings(log_level="warning")
    redis = redis_client(s, socket_connect_timeout=3)
    try:
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001
            raise ServiceUnavailable(
                f"Redis is not answering at {redact_url(s.redis_url)} ({exc}); {REDIS_START_HINT}"
            ) from None
        store = IncidentStore(redis, Keyspace(s.namespace), marker_ttl=60, timeline_max=1000)
        return await fn(store)
    finally:
        await redis.aclose()
