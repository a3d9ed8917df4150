"""The name of every RabbitMQ exchange, queue and routing key Stormwatch uses, all under the namespace.

    <ns>.alerts                topic exchange   where every source publishes alerts (any routing key; Stormwatch's HTTP
                                                receivers use ``http.<kind>``, ``stormwatch publish`` ``cli``)
    <ns>.alerts                quorum queue     bound with ``#``; dead-letters to <ns>.alerts.dead
    <ns>.alerts.dead           fanout exchange  and a quorum queue of the same name: poison and invalid alerts
    <ns>.events                topic exchange   every event, under its type as routing key (``incident.created``, ...)
    <ns>.changes               direct exchange  change events (``events/changes.py``), routing key ``CHANGES_ROUTE``
    <ns>.changes               quorum queue     bound with ``CHANGES_ROUTE``; invalid ones go to <ns>.alerts.dead with
                                                a reason header, like invalid alerts
    <ns>.actions               quorum queue     bound to <ns>.events with ``RUNNER_ROUTE`` only (events BCC'd to the
                                                action runner); dead-letters to <ns>.actions.dead
    <ns>.actions.dead          fanout exchange  and a quorum queue of the same name: malformed or poison events
    <ns>.history               quorum queue     bound to <ns>.events with ``#``: every event, for the history writer;
                                                dead-letters to <ns>.history.dead
    <ns>.history.dead          fanout exchange  and a quorum queue of the same name: events the history cannot use
    <ns>.runbooks              quorum queue     runbook requests for executors
    <ns>.runbooks.results      quorum queue     executors' replies

Who declares what stays with its owner (``ingest/topology.py``, ``actions/topology.py``,
``stormwatch/history/writer.py``); the names live here so a
subscriber, a producer and the declaring side cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the routing key the action runner's queue is bound with, and only it: publishers add a ``BCC`` header naming it
#: to events that may start an action (RabbitMQ's sender-selected distribution removes the header before delivery)
RUNNER_ROUTE = "actions.runner"
#: the alerts queue takes every routing key a source publishes under
ALERTS_BINDING = "#"
#: the routing key of change events on <ns>.changes
CHANGES_ROUTE = "change"
#: a subscriber that wants every event (the web console's live view) binds with this; events go out under their type
ALL_EVENTS = "#"


def http_alerts_route(kind: str) -> str:
    """The routing key of alerts accepted over HTTP, by receiver kind (``http.alertmanager``, ``http.generic``, ...)."""
    return f"http.{kind}"


@dataclass(frozen=True, slots=True)
class BrokerNames:
    namespace: str

    @property
    def alerts_exchange(self) -> str:
        return f"{self.namespace}.alerts"

    @property
    def alerts_queue(self) -> str:
        return f"{self.namespace}.alerts"

    @property
    def dead_exchange(self) -> str:
        return f"{self.namespace}.alerts.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.namespace}.alerts.dead"

    @property
    def changes_exchange(self) -> str:
        return f"{self.namespace}.changes"

    @property
    def changes_queue(self) -> str:
        return f"{self.namespace}.changes"

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def actions_queue(self) -> str:
        return f"{self.namespace}.actions"

    @property
    def actions_dead(self) -> str:
        return f"{self.namespace}.actions.dead"

    @property
    def history_queue(self) -> str:
        return f"{self.namespace}.history"

    @property
    def history_dead(self) -> str:
        return f"{self.namespace}.history.dead"

    @property
    def runbooks(self) -> str:
        return f"{self.namespace}.runbooks"

    @property
    def runbooks_results(self) -> str:
        return f"{self.namespace}.runbooks.results"
