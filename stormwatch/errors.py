"""The shell's start-up failures, each with a message that says what to do; the CLI turns them into exit codes
(ServiceUnavailable: 1, RulesInvalid: 2)."""

from __future__ import annotations

REDIS_START_HINT = (
    "start it with: redis-server --daemonize yes --port 6379 (or `make services`), "
    "or point STORMWATCH_REDIS_URL at a running Redis"
)
AMQP_START_HINT = (
    "start it with: rabbitmq-server -detached (or `make services`), "
    "or point STORMWATCH_AMQP_URL at a running RabbitMQ"
)


class ServiceUnavailable(Exception):
    """RabbitMQ or Redis could not be reached at start; the message says which, where and what to do."""


class RulesInvalid(Exception):
    """The rules directory does not validate; the message lists every error as file:line: field: message."""
